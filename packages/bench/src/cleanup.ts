// Stops everything the bench started, newest first, exactly once: after a normal run,
// after an error, and on SIGINT/SIGTERM. Each step is bounded in time, so a stuck
// service cannot keep the bench from exiting.
const STEP_TIMEOUT_MS = 10_000;

type Step = { name: string; run: () => Promise<void> | void };

export class Cleanup {
  #steps: Step[] = [];
  #running: Promise<void> | undefined;
  readonly #log: (msg: string) => void;

  constructor(log: (msg: string) => void) {
    this.#log = log;
  }

  add(name: string, run: () => Promise<void> | void): void {
    this.#steps.push({ name, run });
  }

  /** Runs and forgets a step registered earlier (stopped before the end of the run). */
  async runOne(name: string): Promise<void> {
    const idx = this.#steps.findLastIndex((s) => s.name === name);
    if (idx < 0) return;
    const [step] = this.#steps.splice(idx, 1);
    if (step !== undefined) await this.#runStep(step);
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) await this.#runStep(step);
    })();
    return this.#running;
  }

  async #runStep(step: Step): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(step.run),
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      this.#log(`cleanup: stopping ${step.name} failed: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
