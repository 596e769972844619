// Must NOT compile: the browser entry has no file engine and no CAR files on disk.
import { exportToFile } from 'cairndb/browser'

void exportToFile
