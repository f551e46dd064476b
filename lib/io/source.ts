// Input sources: files given on the command line (or in a spec), or stdin for none or '-'.
import { accessSync, closeSync, constants, createReadStream, fstatSync, openSync, readSync, statSync } from 'node:fs'
import { closedByShell } from './closed-fd.js'
import type { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { WeirError } from '../stream/errors.js'

export const STDIN = '-'

export function sourceName(path: string): string {
  return path === STDIN ? 'stdin' : path
}

export interface InputsInfo {
  /** total size of the regular files */
  bytes: number
  /** every input is a regular file (not stdin, a FIFO or a device) that can be read by offset */
  allRegular: boolean
  /** the inputs that are gzip-compressed (read through zlib, from their start only) */
  gzip: string[]
}

/**
 * Fails before any record is read when an input file is missing, a directory, or unreadable.
 * Returns the files' total size in bytes (stdin counts as 0) and whether all are regular files.
 */
export function checkInputs(paths: string[]): InputsInfo {
  let bytes = 0
  let allRegular = true
  const gzip: string[] = []
  for (const p of paths) {
    if (p === STDIN) {
      if (closedByShell(0))
        throw new WeirError('no-input', "stdin: closed (weir reads stdin when no file is named): name an input file, or give '< /dev/null' for none")
      // `< dir`: reading it fails with EISDIR, which a stream ends on quietly, as an empty input
      if (fstatSync(0).isDirectory()) throw new WeirError('no-input', 'stdin: is a directory, expected NDJSON')
      allRegular = false
      continue
    }
    let isFile: boolean
    try {
      const st = statSync(p)
      isFile = !st.isDirectory()
      if (!st.isFile()) allRegular = false
      bytes += st.size
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      throw new WeirError('no-input', `${p}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`)
    }
    if (!isFile) throw new WeirError('no-input', `${p}: is a directory, expected an NDJSON file`)
    try {
      // unreadable (its mode, a directory above it): found now, before any output is created
      accessSync(p, constants.R_OK)
    } catch (e) {
      throw new WeirError('no-input', `${p}: cannot be read: ${(e as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (e as Error).message}`)
    }
    if (allRegular && isGzip(p)) {
      gzip.push(p)
      allRegular = false // its bytes are not its lines: no reading by offset (the parse worker does)
    }
  }
  return { bytes, allRegular, gzip }
}

/**
 * Whether a regular file starts with gzip's magic bytes (1f 8b): such an input is read through
 * zlib, as `zcat` would, whatever its name. Only regular files are looked at: a FIFO's first
 * bytes cannot be read twice.
 */
export function isGzip(path: string): boolean {
  if (path === STDIN) return false
  let fd: number | undefined
  try {
    if (!statSync(path).isFile()) return false
    fd = openSync(path, 'r')
    const b = Buffer.alloc(2)
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b
  } catch {
    return false // unreadable: reading it says why
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * Opens an input, from byte `start` (a resumed job). stdin can start past 0 only when it is a
 * regular file (`< file`): a pipe cannot be rewound, and the driver refuses that case earlier.
 */
export function openSource(path: string, start = 0): Readable {
  // 256 KiB chunks: large enough that per-chunk costs vanish, small enough to keep output flowing
  if (path === STDIN) return start > 0 ? createReadStream('', { fd: 0, start, highWaterMark: 1 << 18, autoClose: false }) : process.stdin
  if (start === 0 && isGzip(path)) {
    // decompressed as it is read; the file stream goes with the gunzip stream either way
    const file = createReadStream(path, { highWaterMark: 1 << 18 })
    const gunzip = createGunzip({ chunkSize: 1 << 16 })
    file.on('error', (e) => gunzip.destroy(e))
    gunzip.on('close', () => file.destroy())
    return file.pipe(gunzip)
  }
  // no `start` for 0: with one, Node reads by position, which a FIFO or /dev/fd/N refuses (ESPIPE)
  return createReadStream(path, start > 0 ? { start, highWaterMark: 1 << 18 } : { highWaterMark: 1 << 18 })
}

/** An input's identity and size, for checkpoints (device and inode tell a rotated file). */
export interface InputIdentity {
  dev: number
  ino: number
  size: number
  /** a regular file: it can be read from an offset */
  seekable: boolean
}

export function identifyInput(path: string): InputIdentity {
  const st = path === STDIN ? fstatSync(0) : statSync(path)
  return { dev: st.dev, ino: st.ino, size: st.size, seekable: st.isFile() }
}
