/**
 * Sessions with attached metrics in one runtime (by default, the process: the scope the spec's
 * concurrency metric talks about, one job process per room in the framework).
 */
export class SessionGauge {
  active = 0;
  peak = 0;

  opened(): void {
    this.active += 1;
    if (this.active > this.peak) this.peak = this.active;
  }

  closed(): void {
    this.active = Math.max(0, this.active - 1);
  }
}
