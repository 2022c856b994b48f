export * from './errors';
export * from './clock';
export * from './plan';
export * from './durations';
export * from './priority';
export * from './transitions';
export * from './lease';
export * from './pick';
