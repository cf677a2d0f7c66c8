/** What the sandbox cannot model faithfully: it fails loudly, naming the part, rather than half-evaluating it. */
export class NotSupportedError extends Error {
  constructor(what: string) {
    super(`not supported by the local sandbox: ${what}`);
    this.name = 'NotSupportedError';
  }
}
