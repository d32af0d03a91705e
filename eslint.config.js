/**
 * Lint rules as Element's projects use them: typescript-eslint, React hooks and jsx-a11y, each with its recommended
 * set. Formatting is Prettier's (.prettierrc.json); `npm run lint` runs both and is part of `npm test`.
 */
import js from "@eslint/js";
import jsxA11y from "eslint-plugin-jsx-a11y";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["dist/", "node_modules/", ".cache/", "coverage/"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    reactHooks.configs.flat.recommended,
    jsxA11y.flatConfigs.recommended,
    {
        languageOptions: { globals: { ...globals.browser, ...globals.node } },
        rules: {
            // `_`-prefixed names are deliberately unused (positional parameters, destructuring to drop a field).
            "@typescript-eslint/no-unused-vars": [
                "error",
                { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
            ],
        },
    },
);
