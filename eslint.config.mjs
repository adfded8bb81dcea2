import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/generated/**', 'data/**', 'tmp/**', 'coverage/**', 'reports/**', '.stryker-tmp/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      // A package is used through its exports map (docs/build.md): a path into its src/ works
      // under tsx and jest but not in the compiled build, where only dist/ exists.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@parley/*/src', '@parley/*/src/**'],
              message: "Import the package's root or a subpath it exports (see its package.json exports), not its src/.",
            },
          ],
        },
      ],
    },
  },
);
