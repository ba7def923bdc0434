package spec

// Storing objects in the session, per the Nevow post: components set under
// an application's own key, get-or-default, made on first use and the same
// instance afterwards, replaced by set, released when the session ends.
var componentCases = []Case{}
