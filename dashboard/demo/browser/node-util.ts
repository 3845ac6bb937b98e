/** node:util's promisify, for callback-last functions (node-zlib.ts). */
export function promisify<T>(fn: (...args: any[]) => void): (...args: unknown[]) => Promise<T> {
  return (...args) => new Promise<T>((resolve, reject) => fn(...args, (error: Error | null, value: T) => (error ? reject(error) : resolve(value))));
}
