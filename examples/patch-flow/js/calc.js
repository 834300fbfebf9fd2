'use strict';
// A tiny calculator: the code an agent's patch changes.

function add(a, b) {
  return a + b;
}

function mul(a, b) {
  return a * b;
}

module.exports = { add, mul };
