package spec

// Cookie negotiation, judged as security: the session id never appears in
// a URL.
var urlCases = []Case{}
