// nows.d.ts: placeholder.
