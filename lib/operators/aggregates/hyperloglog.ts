// approx-distinct: exact while small (a set of up to EXACT_LIMIT values), then HyperLogLog with
// 2^12 one-byte registers (4 KiB per accumulator, standard error 1.04/√4096 ≈ 1.6%), so memory is
// bounded however many distinct values a window sees. The hash is cyrb53 (53 bits): 12 bits pick
// the register, the other 41 give the rank, enough for cardinalities far beyond 2^32.

const P = 12
const M = 1 << P

function hash53(s: string): number {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

export class HyperLogLog {
  static readonly EXACT_LIMIT = 1024
  static readonly REGISTERS = M
  static readonly STANDARD_ERROR = 1.04 / Math.sqrt(M)

  exact: Set<string> | undefined = new Set()
  registers: Uint8Array | undefined

  add(value: string): void {
    if (this.exact) {
      this.exact.add(value)
      if (this.exact.size > HyperLogLog.EXACT_LIMIT) this.toSketch()
      return
    }
    this.addHash(hash53(value))
  }

  private addHash(h: number): void {
    const idx = h % M // low 12 bits
    const rest = Math.floor(h / M) // 41 bits
    // rank: position of the first 1 bit in the 41-bit remainder, counting from 1
    let rank = 1
    let bit = 2 ** 40
    while (rank <= 41 && rest < bit) {
      rank++
      bit /= 2
    }
    if (rank > this.registers![idx]!) this.registers![idx] = rank
  }

  private toSketch(): void {
    this.registers = new Uint8Array(M)
    for (const v of this.exact!) this.addHash(hash53(v))
    this.exact = undefined
  }

  merge(other: HyperLogLog): HyperLogLog {
    if (other.exact) {
      for (const v of other.exact) this.add(v)
      return this
    }
    if (this.exact) this.toSketch()
    const r = this.registers!
    const o = other.registers!
    for (let i = 0; i < M; i++) if (o[i]! > r[i]!) r[i] = o[i]!
    return this
  }

  estimate(): number {
    if (this.exact) return this.exact.size
    const r = this.registers!
    let sum = 0
    let zeros = 0
    for (let i = 0; i < M; i++) {
      sum += 2 ** -r[i]!
      if (r[i] === 0) zeros++
    }
    const alpha = 0.7213 / (1 + 1.079 / M)
    const raw = (alpha * M * M) / sum
    // small-range correction (linear counting), as in the original paper
    if (raw <= 2.5 * M && zeros > 0) return Math.round(M * Math.log(M / zeros))
    return Math.round(raw)
  }
}
