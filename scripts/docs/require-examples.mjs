// TypeDoc plugin: every export of the entry points, and every public method of an exported
// class, should carry an `@example`. Part of `npm run docs`: it lists the missing ones, and
// fails the build on them with CAIRN_DOCS_REQUIRE_EXAMPLES=1 (the default once all are in).
import { Application, ReflectionKind } from 'typedoc'

/**
 * Exports another change documents (the import/export/putFile/verify options and methods);
 * remove each name once its `@example` is in.
 */
const PENDING = new Set(['ExportOptions', 'ImportOptions', 'PutFileOptions', 'CairnStore.import', 'CairnStore.export', 'CairnStore.putFile', 'CairnStore.verify'])

const hasExample = (comment) => comment?.blockTags.some((tag) => tag.tag === '@example') ?? false

/** The comments of a reflection: its own, or its signatures' (functions, methods). */
function commentsOf(reflection) {
  return [reflection.comment, ...(reflection.signatures ?? []).map((s) => s.comment), ...(reflection.type?.declaration?.signatures ?? []).map((s) => s.comment)]
}

/** @param {Application} app */
export function load(app) {
  app.on(Application.EVENT_VALIDATE_PROJECT, (project) => {
    const missing = []
    const check = (reflection, name) => {
      if (PENDING.has(name)) return
      if (!commentsOf(reflection).some(hasExample)) missing.push(name)
    }
    for (const module of project.children ?? []) {
      for (const child of module.children ?? []) {
        if (child.kindOf(ReflectionKind.Reference)) continue
        check(child, child.name)
        if (!child.kindOf(ReflectionKind.Class)) continue
        for (const member of child.children ?? []) {
          if (member.kindOf(ReflectionKind.Method) && !member.flags.isPrivate && !member.flags.isProtected && !member.inheritedFrom) check(member, `${child.name}.${member.name}`)
        }
      }
    }
    const names = [...new Set(missing)]
    if (names.length === 0) return
    const log = process.env.CAIRN_DOCS_REQUIRE_EXAMPLES === '1' ? (m) => app.logger.error(m) : (m) => app.logger.info(m)
    log(`${names.length} exports have no @example: ${names.join(', ')}`)
  })
}
