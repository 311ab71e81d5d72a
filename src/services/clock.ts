/** "Now" is passed in: services take a Clock, tests give them a fixed one. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export function fixedClock(instant: Date | string): Clock {
  const at = new Date(instant);
  if (Number.isNaN(at.getTime())) throw new TypeError(`not an instant: ${String(instant)}`);
  return () => new Date(at);
}
