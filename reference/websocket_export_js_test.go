//go:build js

package reference

// ServedWebSocketPath is the ws path the discovery document declares on
// this platform: none under GOOS=js, where the WebSocket library has only
// its browser client.
const ServedWebSocketPath = ""
