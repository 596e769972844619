// TypeDoc plugin: every export of the entry points, and every public method of an exported
// class, must carry an `@example`. Part of `npm run docs`, which fails naming the missing ones.
// A class re-exported from a dependency (multiformats' CID) needs its example on the export;
// its methods are the dependency's to document.
import { Application, Converter, ReflectionKind } from 'typedoc'

const hasExample = (comment) => comment?.blockTags.some((tag) => tag.tag === '@example') ?? false

/** The comments of a reflection: its own, or its signatures' (functions, methods). */
function commentsOf(reflection) {
  return [reflection.comment, ...(reflection.signatures ?? []).map((s) => s.comment), ...(reflection.type?.declaration?.signatures ?? []).map((s) => s.comment)]
}

/** @param {Application} app */
export function load(app) {
  /** Classes declared in a dependency (under node_modules), by reflection id. */
  const external = new Set()
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Class)) return
    const file = context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile().fileName ?? ''
    if (file.includes('/node_modules/')) external.add(reflection.id)
  })
  app.on(Application.EVENT_VALIDATE_PROJECT, (project) => {
    const missing = []
    const check = (reflection, name) => {
      if (!commentsOf(reflection).some(hasExample)) missing.push(name)
    }
    for (const module of project.children ?? []) {
      for (const child of module.children ?? []) {
        if (child.kindOf(ReflectionKind.Reference)) continue
        check(child, child.name)
        if (!child.kindOf(ReflectionKind.Class) || external.has(child.id)) continue
        for (const member of child.children ?? []) {
          if (member.kindOf(ReflectionKind.Method) && !member.flags.isPrivate && !member.flags.isProtected && !member.inheritedFrom) check(member, `${child.name}.${member.name}`)
        }
      }
    }
    const names = [...new Set(missing)]
    if (names.length === 0) return
    app.logger.error(`${names.length} exports have no @example: ${names.join(', ')}`)
  })
}
