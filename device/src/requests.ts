/**
 * Requests of AWS IoT's MQTT APIs answered on `/accepted` or `/rejected` (the shadow, Jobs): each carries a
 * clientToken, and the answer with the same token settles it, or a timeout does.
 */
import { randomUUID } from 'crypto';

type Pending = { resolve: (payload: Record<string, unknown>) => void; reject: (error: Error) => void; timer: NodeJS.Timeout; operation: string };

export class PendingRequests {
  private readonly pending = new Map<string, Pending>();

  /** `service` names the API in errors ("shadow", "jobs"). */
  constructor(private readonly service: string, private readonly timeoutMs: number) {}

  /** A new request's token and its answer (marked handled: close() may reject it while it is still being published). */
  add(operation: string): { clientToken: string; answer: Promise<Record<string, unknown>> } {
    const clientToken = randomUUID();
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(clientToken);
        reject(new Error(`${this.service} ${operation} got no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(clientToken, { resolve, reject, timer, operation });
    });
    answer.catch(() => undefined);
    return { clientToken, answer };
  }

  /** Settles the request `message` answers, if it is one of ours: accepted, or rejected with `rejection(operation)`. */
  settle(message: Record<string, unknown>, accepted: boolean, rejection: (operation: string) => Error): void {
    const pending = typeof message.clientToken === 'string' ? this.pending.get(message.clientToken) : undefined;
    if (!pending) return;
    this.pending.delete(message.clientToken as string);
    clearTimeout(pending.timer);
    if (accepted) pending.resolve(message);
    else pending.reject(rejection(pending.operation));
  }

  /** Fails every request still waiting (on shutdown). */
  close(): void {
    for (const [token, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error(`${this.service} ${pending.operation} abandoned: shutting down`));
      this.pending.delete(token);
    }
  }
}

/** An MQTT message's JSON object, or undefined when it is not one. */
export function jsonObject(payload: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(payload.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
