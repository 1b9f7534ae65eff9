// Prettier for the web client: its defaults, at the line length ruff keeps for the Python.
/** @type {import("prettier").Config} */
export default {
  printWidth: 100,
};
