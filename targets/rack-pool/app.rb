# frozen_string_literal: true

# The seed examples of Twisted Web's session howtos on Rack 2.2's
# Rack::Session::Pool (Debian ruby-rack), served by WEBrick (Debian
# ruby-webrick) through Rack::Handler::WEBrick. Every session is the Pool's:
# its id made, looked up, saved and deleted by the middleware. This program
# only maps the seed resources onto the Rack session API:
#
#   /          ShowSession: "Your session id is: " + the session's public id
#              (the cookie's value; the Pool keys its hash by the id's SHA-256)
#   /expire    ExpireSession: env["rack.session"].destroy, Rack's way of ending a
#              session (Rails' reset_session calls it): the Pool deletes the
#              entry and hands out a new, empty session with a new cookie
#   /logme     ExpirationLogger: marks the session once and has the ADAPTER watch it
#   /expired   the ids the adapter saw end, one per line
#   /counter   the session-store example: a counter kept in the session
#   /.well-known/sessionspec  the discovery document
#
# The timeout is set Rack's way, the :expire_after option (seconds). In
# Rack 2.2 it only puts Expires (now + expire_after) on the cookie
# (abstract/id.rb:395): the Pool itself never drops a session by age.
#
# Rack has no expiry notification: nothing in it runs code when a session
# ends. The notifications /expired lists are therefore ADAPTER CODE, not
# Rack's behaviour: a thread here looks every --poll seconds for each logged
# session in the Pool's hash and reports it once it is gone. The discovery
# document's implementation name says so.
#
# Usage: ruby app.rb [--port P] [--timeout SECONDS] [--poll SECONDS]
# Binds 127.0.0.1 (port 0 by default: the kernel picks) and prints
# "listening on http://127.0.0.1:PORT/" once it serves.

require 'json'
require 'optparse'
require 'rack'
require 'rack/session/pool'
require 'rack/handler/webrick'
require 'webrick'

opts = { port: 0, timeout: 2, poll: 0.1 }
OptionParser.new do |o|
  o.on('--port P', Integer) { |v| opts[:port] = v }
  o.on('--timeout SECONDS', Integer) { |v| opts[:timeout] = v }
  o.on('--poll SECONDS', Float) { |v| opts[:poll] = v }
end.parse!

LOGME = 'sessionspec.logme'
COUNTER = 'sessionspec.counter'

# The adapter's stand-in for an expiry hook Rack does not have.
class Watcher
  def initialize
    @mutex = Mutex.new
    @logged = {} # public id => Rack::Session::SessionId
    @expired = []
  end

  def watch(sid)
    @mutex.synchronize { @logged[sid.public_id] = sid }
  end

  # Looks each logged session up in the Pool's hash, as Pool#find_session does.
  def poll(pool)
    gone = @mutex.synchronize { @logged.values }.reject do |sid|
      pool.mutex.synchronize { pool.pool.key?(sid.private_id) || pool.pool.key?(sid.public_id) }
    end
    gone.each do |sid|
      @mutex.synchronize do
        @logged.delete(sid.public_id)
        @expired << sid.public_id
      end
      puts "Session #{sid.public_id} has expired."
    end
  end

  def list
    @mutex.synchronize { @expired.map { |id| "#{id}\n" }.join }
  end
end

def text(body, status = 200)
  [status, { 'Content-Type' => 'text/plain; charset=utf-8' }, [body]]
end

# Twisted's request.getSession() in Rack's terms: Rack loads a session
# lazily, and only a write loads one that does not exist yet (the Pool then
# makes it, with a new id); update({}) writes nothing.
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
  when '/logme'
    s = session_of(env)
    unless s[LOGME]
      s[LOGME] = true
      WATCHER.watch(s.id)
    end
    text('')
  when '/counter'
    s = session_of(env)
    s[COUNTER] = (s[COUNTER] || 0) + 1
    text("Visit #{'#'}#{s[COUNTER]} for you!")
  else
    text("not found\n", 404)
  end
end

WATCHER = Watcher.new
pool = Rack::Session::Pool.new(seed, expire_after: opts[:timeout])

name = "Rack #{Rack.release} Rack::Session::Pool (expire_after #{opts[:timeout]} s; expiry notifications: " \
       "adapter polling every #{opts[:poll]} s, Rack has no hook) on WEBrick #{WEBrick::VERSION}"
discovery = JSON.generate(
  sessionspec: 1, implementation: name, cookie: pool.key, timeout_seconds: opts[:timeout],
  paths: { session: '/', expire: '/expire', logme: '/logme', expired: '/expired', counter: '/counter', clock: '' }
)

app = lambda do |env|
  case env['PATH_INFO']
  when '/.well-known/sessionspec' then [200, { 'Content-Type' => 'application/json' }, [discovery]]
  when '/expired' then text(WATCHER.list)
  else pool.call(env)
  end
end

Thread.new do
  loop do
    sleep opts[:poll]
    WATCHER.poll(pool)
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
