# frozen_string_literal: true

# The seed examples of Twisted Web's session howtos on Rack 2.2's
# Rack::Session::Cookie (Debian ruby-rack), served by WEBrick (Debian
# ruby-webrick) through Rack::Handler::WEBrick. Every session is Rack's
# signed cookie: the whole session, Marshal-dumped and Base64-encoded (the
# default coder), "--" and an HMAC-SHA1 of it with the secret. The server
# keeps nothing. This program only maps the seed resources onto the Rack
# session API:
#
#   /          ShowSession: "Your session id is: " + the session's public id
#              (the "session_id" Rack keeps inside the cookie)
#   /expire    ExpireSession: env["rack.session"].destroy, Rack's way of ending a
#              session (Rails' reset_session calls it): Rack clears it and
#              writes a new, empty session with a new id into a new cookie
#   /counter   the session-store example: a counter kept in the session
#   /.well-known/sessionspec  the discovery document
#
# There is no /logme or /expired: Rack runs nothing when a session ends, and
# with the session in the cookie nothing on the server knows it exists, so
# there is nothing to notify or to watch (the discovery document leaves them
# out and the notification cases are not applicable).
#
# The timeout is set Rack's way, the :expire_after option (seconds). In
# Rack 2.2 it only puts Expires (now + expire_after) on the cookie
# (abstract/id.rb:395): the signed data carries no time.
#
# Usage: ruby app.rb [--port P] [--timeout SECONDS]
# Binds 127.0.0.1 (port 0 by default: the kernel picks) and prints
# "listening on http://127.0.0.1:PORT/" once it serves. The secret is made
# afresh at each start (SecureRandom), as a test server's may be.

require 'json'
require 'optparse'
require 'securerandom'
require 'rack'
require 'rack/session/cookie'
require 'rack/handler/webrick'
require 'webrick'

opts = { port: 0, timeout: 2 }
OptionParser.new do |o|
  o.on('--port P', Integer) { |v| opts[:port] = v }
  o.on('--timeout SECONDS', Integer) { |v| opts[:timeout] = v }
end.parse!

COUNTER = 'sessionspec.counter'

def text(body, status = 200)
  [status, { 'Content-Type' => 'text/plain; charset=utf-8' }, [body]]
end

# Twisted's request.getSession() in Rack's terms: Rack loads a session
# lazily, and only a write loads one that does not exist yet (the cookie
# store then gives it a new id); update({}) writes nothing.
def session_of(env)
  s = env['rack.session']
  s.update({}) unless s.loaded?
  s
end

seed = lambda do |env|
  case env['PATH_INFO']
  when '/'
    [200, { 'Content-Type' => 'text/html; charset=utf-8' }, ["Your session id is: #{session_of(env).id.public_id}\n"]]
  when '/expire'
    session_of(env).destroy
    text('Your session has been expired.')
  when '/counter'
    s = session_of(env)
    s[COUNTER] = (s[COUNTER] || 0) + 1
    text("Visit #{'#'}#{s[COUNTER]} for you!")
  else
    text("not found\n", 404)
  end
end

store = Rack::Session::Cookie.new(seed, secret: SecureRandom.hex(64), expire_after: opts[:timeout])

name = "Rack #{Rack.release} Rack::Session::Cookie (signed with HMAC-SHA1, Marshal coder; expire_after #{opts[:timeout]} s; " \
       "no expiry notification) on WEBrick #{WEBrick::VERSION}"
discovery = JSON.generate(
  sessionspec: 1, implementation: name, cookie: store.key, timeout_seconds: opts[:timeout],
  paths: { session: '/', expire: '/expire', logme: '', expired: '', counter: '/counter', clock: '' }
)

app = lambda do |env|
  if env['PATH_INFO'] == '/.well-known/sessionspec'
    [200, { 'Content-Type' => 'application/json' }, [discovery]]
  else
    store.call(env)
  end
end

$stdout.sync = true
Rack::Handler::WEBrick.run(
  app, Host: '127.0.0.1', Port: opts[:port], AccessLog: [],
  Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN),
  StartCallback: proc { puts "#{name} listening on http://127.0.0.1:#{PORT.call}/" }
) do |server|
  PORT = -> { server.listeners.first.addr[1] }
  %w[INT TERM].each { |sig| trap(sig) { server.shutdown } }
end
