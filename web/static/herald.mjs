// herald.mjs — herald.js as an ES module:
//
//   import Herald, { subscribe, publish } from "https://hub.example.com/herald.mjs";
//
// herald.js is a classic script that also runs as a module; importing it
// defines globalThis.Herald as the script tag does.
import "./herald.js";

const Herald = globalThis.Herald;
export default Herald;
export const { subscribe, publish, HeraldError } = Herald;
