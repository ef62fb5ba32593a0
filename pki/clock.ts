/** Time is a parameter: everything that expires, rotates or rate-limits takes a Clock. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
