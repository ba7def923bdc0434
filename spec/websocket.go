package spec

// A second protocol attached to the web session (Glyph's post): a
// WebSocket opened with the session's cookie is attached to it, and is
// detached (closed) when the session ends.
var websocketCases = []Case{}
