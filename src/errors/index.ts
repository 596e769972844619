export { CairnError, isCairnError, type CairnErrorCode, type CairnErrorDetails } from './cairn-error.ts'
