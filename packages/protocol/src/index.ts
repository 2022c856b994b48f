export * from './schemas';
export * from './routes';
export * from './params';
export * from './validation';
