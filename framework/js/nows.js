// nows.js: the JavaScript client (placeholder until the jsclient branch lands).
