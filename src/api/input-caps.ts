/** The caps live in shared (the client checks a tree against them before sending it). */
export { INPUT_CAPS } from '../shared/input-caps.js';
