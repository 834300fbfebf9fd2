export { HELP, parseArgs, run } from './main.js';
