// ESLint for the web client (services/gateway/web/): ES modules in the browser, the service
// worker as a classic script in its own global scope, and the tools' config files in Node.
// ESLint's recommended rules only; Prettier owns the layout. `make lint` runs it.
import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";

export default defineConfig([
  // Installed code and local state, never ours (node_modules is ignored already).
  globalIgnores([".venv/", ".tools/", ".devstack/", ".replay/"]),
  js.configs.recommended,
  {
    files: ["services/gateway/web/**/*.js"],
    ignores: ["services/gateway/web/sw.js"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: globals.browser },
  },
  {
    files: ["services/gateway/web/sw.js"],
    languageOptions: { sourceType: "script", globals: globals.serviceworker },
  },
  {
    files: ["*.config.js"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: globals.node },
  },
]);
