import { defineConfig } from 'drizzle-kit';

// Generates SQL migrations from src/db/schema into drizzle/. Custom migrations
// (functions and triggers) are made with `npx drizzle-kit generate --custom --name=...`.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema/index.ts',
  out: './drizzle',
});
