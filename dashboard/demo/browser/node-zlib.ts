/** The dashboard never sends gzip bodies; only ingest reads them, and the demo's log is loaded, not ingested. */
export function gunzip(_input: unknown, _options: unknown, callback: (error: Error) => void): void {
  callback(new Error('gzip bodies are not accepted by the in-browser demo'));
}
