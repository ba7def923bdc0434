// The seed examples of Twisted Web's session howtos on Apache Tomcat 10.1,
// embedded: every session is Tomcat's own HttpSession, made, found,
// refreshed and expired by Tomcat. The adapter only maps the seed
// resources onto the Servlet API:
//
//   /          ShowSession: "Your session id is: " + request.getSession().getId(),
//              and the adapter's one addition to the seed: a link to /counter built
//              with response.encodeURL, the Servlet API's documented way to keep a
//              session for a client without cookies (checked by URL-001)
//   /expire    ExpireSession: request.getSession().invalidate()
//   /logme     ExpirationLogger: marks the session once; the HttpSessionListener
//              below logs its id when Tomcat destroys it (sessionDestroyed)
//   /expired   the logged ids, one per line
//   /counter   the session-store example: a counter kept as a session attribute
//   /.well-known/sessionspec  the discovery document
//   /ws        a WebSocket attached to the HttpSession, with Tomcat's Jakarta
//              WebSocket 2.1 implementation (WsSci, a programmatic
//              ServerEndpointConfig whose Configurator.modifyHandshake takes
//              HandshakeRequest.getHttpSession()): first message "attached <id>",
//              "ping" -> "pong <id>", other text -> "unknown message: send ping",
//              binary -> close 1003. A Filter on /ws refuses an upgrade with 403
//              when request.getSession(false) is null (no, unknown or ended
//              session: the JSR API has no way to answer 403 from
//              modifyHandshake) and answers GET /ws?id=<id> without an upgrade
//              with the detached feed (one line, the id, per socket of that
//              session detached so far); GET /ws otherwise is 426. When Tomcat
//              destroys the session (invalidate() at /expire, or its background
//              expiry sweep after a timeout) the HttpSessionListener detaches and
//              closes every socket of that session with 4001 "session expired".
//              A socket the client closes is detached too, once. Socket messages
//              do not touch the HttpSession (nothing in the JSR API does).
//
// The timeout is set Tomcat's way, HttpSession.setMaxInactiveInterval (whole
// seconds), on every session as Tomcat makes it (sessionCreated). Tomcat has
// no injectable clock (System.currentTimeMillis), so there is no /_clock.
//
// Usage: java -cp BUILD:TOMCAT_JARS SeedSite [--port P] [--timeout SECONDS]
//        [--background-delay SECONDS] [--expires-frequency N]
// --port 0 (the default) binds a free port; the line "... listening on
// http://127.0.0.1:P/ ..." on stdout says which, once Tomcat has started.
// --background-delay and --expires-frequency are Tomcat's own settings
// (Engine backgroundProcessorDelay, Manager processExpiresFrequency): how
// often Tomcat looks for sessions that timed out without a request. Their
// defaults here, 1 and 1, are the finest Tomcat allows; Tomcat's own
// defaults are 10 and 6 (a check every 60 s).

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletContainerInitializer;
import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpFilter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import jakarta.servlet.http.HttpSessionEvent;
import jakarta.servlet.http.HttpSessionListener;

import jakarta.websocket.CloseReason;
import jakarta.websocket.Endpoint;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.HandshakeResponse;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.Session;
import jakarta.websocket.server.HandshakeRequest;
import jakarta.websocket.server.ServerContainer;
import jakarta.websocket.server.ServerEndpointConfig;

import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.session.StandardManager;
import org.apache.catalina.startup.Tomcat;
import org.apache.catalina.util.ServerInfo;
import org.apache.tomcat.websocket.server.WsSci;

public class SeedSite {
    static final String LOGME = "sessionspec.logme";
    static final String COUNTER = "sessionspec.counter";

    /** The ids whose expiry notification fired, in order. */
    static final List<String> expired = new ArrayList<>();

    /** Sets each new session's timeout; logs the destruction of marked sessions. */
    static class Sessions implements HttpSessionListener {
        final int timeout;

        Sessions(int timeout) {
            this.timeout = timeout;
        }

        @Override
        public void sessionCreated(HttpSessionEvent se) {
            se.getSession().setMaxInactiveInterval(timeout);
        }

        @Override
        public void sessionDestroyed(HttpSessionEvent se) {
            // Called before the session is invalidated: its attributes are still there.
            HttpSession s = se.getSession();
            Sockets.sessionEnded(s.getId());
            if (s.getAttribute(LOGME) != null) {
                synchronized (expired) {
                    expired.add(s.getId());
                }
                System.out.println("Session " + s.getId() + " has expired.");
            }
        }
    }

    static final String HTTP_SESSION = "sessionspec.httpSession";
    static final CloseReason SESSION_EXPIRED = new CloseReason(CloseReason.CloseCodes.getCloseCode(4001), "session expired");

    /** The sockets attached to each live HttpSession, and the detached feed. */
    static class Sockets {
        static final Map<String, Set<Attached>> live = new HashMap<>();
        static final Set<String> ended = new HashSet<>();
        static final Map<String, Integer> detached = new LinkedHashMap<>();

        /** A socket and whether it has been detached. */
        record Attached(Session socket, String id, AtomicBoolean done) {
            /** Records one detached line for this socket, the first time only. */
            boolean detach() {
                if (!done.compareAndSet(false, true)) {
                    return false;
                }
                synchronized (Sockets.class) {
                    Set<Attached> set = live.get(id);
                    if (set != null) {
                        set.remove(this);
                        if (set.isEmpty()) {
                            live.remove(id);
                        }
                    }
                    detached.merge(id, 1, Integer::sum);
                }
                return true;
            }
        }

        /** Attaches a socket; false when its session has already ended. */
        static synchronized boolean attach(Attached a) {
            if (ended.contains(a.id())) {
                return false;
            }
            live.computeIfAbsent(a.id(), k -> new HashSet<>()).add(a);
            return true;
        }

        /** Called from sessionDestroyed: detaches and closes every socket of the session. */
        static void sessionEnded(String id) {
            List<Attached> sockets;
            synchronized (Sockets.class) {
                ended.add(id);
                Set<Attached> set = live.remove(id);
                sockets = set == null ? List.of() : new ArrayList<>(set);
            }
            for (Attached a : sockets) {
                if (a.detach()) { // the line is written before the close frame
                    close(a.socket(), SESSION_EXPIRED);
                }
            }
        }

        static synchronized int detachedCount(String id) {
            return detached.getOrDefault(id, 0);
        }
    }

    static void close(Session socket, CloseReason reason) {
        try {
            socket.close(reason);
        } catch (IOException | RuntimeException e) {
            // already closing, or the connection is gone
        }
    }

    /** Takes the HttpSession from the handshake (null without a live session: the Filter refused those). */
    static class AttachConfigurator extends ServerEndpointConfig.Configurator {
        @Override
        public void modifyHandshake(ServerEndpointConfig sec, HandshakeRequest request, HandshakeResponse response) {
            Object hs = request.getHttpSession();
            if (hs != null) {
                sec.getUserProperties().put(HTTP_SESSION, hs);
            }
        }
    }

    /** The socket attached to an HttpSession. */
    public static class AttachedEndpoint extends Endpoint {
        @Override
        public void onOpen(Session socket, EndpointConfig config) {
            HttpSession hs = (HttpSession) config.getUserProperties().get(HTTP_SESSION);
            if (hs == null) {
                close(socket, new CloseReason(CloseReason.CloseCodes.VIOLATED_POLICY, "no session"));
                return;
            }
            String id = hs.getId();
            Sockets.Attached a = new Sockets.Attached(socket, id, new AtomicBoolean());
            socket.getUserProperties().put("sessionspec.attached", a);
            if (!Sockets.attach(a)) { // the session ended between the handshake and now
                close(socket, SESSION_EXPIRED);
                return;
            }
            socket.addMessageHandler(String.class, new MessageHandler.Whole<String>() {
                @Override
                public void onMessage(String msg) {
                    String reply = msg.equals("ping") ? "pong " + id : "unknown message: send ping";
                    try {
                        socket.getBasicRemote().sendText(reply);
                    } catch (IOException | RuntimeException e) {
                        close(socket, new CloseReason(CloseReason.CloseCodes.UNEXPECTED_CONDITION, "write failed"));
                    }
                }
            });
            socket.addMessageHandler(ByteBuffer.class, new MessageHandler.Whole<ByteBuffer>() {
                @Override
                public void onMessage(ByteBuffer msg) {
                    close(socket, new CloseReason(CloseReason.CloseCodes.CANNOT_ACCEPT, "text only"));
                }
            });
            try {
                socket.getBasicRemote().sendText("attached " + id);
            } catch (IOException | RuntimeException e) {
                close(socket, new CloseReason(CloseReason.CloseCodes.UNEXPECTED_CONDITION, "write failed"));
            }
        }

        @Override
        public void onClose(Session socket, CloseReason reason) {
            Object a = socket.getUserProperties().get("sessionspec.attached");
            if (a instanceof Sockets.Attached at) {
                at.detach();
            }
        }

        @Override
        public void onError(Session socket, Throwable t) {
            Object a = socket.getUserProperties().get("sessionspec.attached");
            if (a instanceof Sockets.Attached at) {
                at.detach();
            }
        }
    }

    /**
     * On /ws: refuses an upgrade without a live session (403, before Tomcat's
     * WsFilter upgrades it), serves the detached feed without an upgrade.
     */
    static class WsGate extends HttpFilter {
        @Override
        protected void doFilter(HttpServletRequest req, HttpServletResponse resp, FilterChain chain)
                throws IOException, ServletException {
            String upgrade = req.getHeader("Upgrade");
            if (upgrade != null && upgrade.toLowerCase().contains("websocket")) {
                if (req.getSession(false) == null) {
                    resp.setStatus(HttpServletResponse.SC_FORBIDDEN);
                    text(resp, "no live session: a socket attaches only to a live session\n");
                    return;
                }
                chain.doFilter(req, resp); // Tomcat's WsFilter upgrades it
                return;
            }
            String[] ids = req.getParameterValues("id");
            if (ids == null || ids.length == 0) {
                resp.setStatus(426);
                resp.setHeader("Upgrade", "websocket");
                text(resp, "426 Upgrade Required\n");
                return;
            }
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < ids.length && i < 200; i++) {
                for (int n = Sockets.detachedCount(ids[i]); n > 0; n--) {
                    b.append(ids[i]).append('\n');
                }
            }
            text(resp, b.toString());
        }
    }

    /** /ws needs a servlet for the request to reach the filters; it answers what they pass on. */
    static class WsFallback extends HttpServlet {
        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            resp.setStatus(426);
            resp.setHeader("Upgrade", "websocket");
            text(resp, "426 Upgrade Required\n");
        }
    }

    static void text(HttpServletResponse resp, String body) throws IOException {
        resp.setContentType("text/plain;charset=utf-8");
        PrintWriter w = resp.getWriter();
        w.print(body);
    }

    static class ShowSession extends HttpServlet {
        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            String id = req.getSession().getId();
            // encodeURL adds ";jsessionid=<id>" when Tomcat does not know yet that the
            // client returns cookies (Response.isEncodeable): the URL-rewriting half of
            // the Servlet API's session tracking, on by default.
            String counter = resp.encodeURL(req.getContextPath() + "/counter");
            resp.setContentType("text/html;charset=utf-8");
            PrintWriter w = resp.getWriter();
            w.print("Your session id is: " + id + "\n<p><a href=\"" + attribute(counter) + "\">count your visits</a></p>\n");
        }
    }

    static String attribute(String s) {
        return s.replace("&", "&amp;").replace("\"", "&quot;").replace("<", "&lt;").replace(">", "&gt;");
    }

    static class ExpireSession extends HttpServlet {
        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            req.getSession().invalidate();
            text(resp, "Your session has been expired.");
        }
    }

    static class ExpirationLogger extends HttpServlet {
        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            HttpSession s = req.getSession();
            if (s.getAttribute(LOGME) == null) {
                s.setAttribute(LOGME, Boolean.TRUE);
            }
            text(resp, "");
        }
    }

    static class Expired extends HttpServlet {
        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            StringBuilder b = new StringBuilder();
            synchronized (expired) {
                for (String id : expired) {
                    b.append(id).append('\n');
                }
            }
            text(resp, b.toString());
        }
    }

    static class Counter extends HttpServlet {
        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            HttpSession s = req.getSession();
            // One counter object per session, made once and then the
            // same instance on every request (the seed's "will return the
            // same instance"), incremented atomically: reading an Integer
            // and setting n + 1 back would lose concurrent increments
            // (COUNTER-004), in this adapter, not in the container.
            AtomicInteger c;
            synchronized (Counter.class) { // the session facade differs per request: not a lock
                c = (AtomicInteger) s.getAttribute(COUNTER);
                if (c == null) {
                    c = new AtomicInteger();
                    s.setAttribute(COUNTER, c);
                }
            }
            text(resp, "Visit #" + c.incrementAndGet() + " for you!");
        }
    }

    static class Discovery extends HttpServlet {
        final String body;

        Discovery(String body) {
            this.body = body;
        }

        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            resp.setContentType("application/json");
            resp.getWriter().print(body);
        }
    }

    public static void main(String[] args) throws Exception {
        int port = 0, timeout = 2, backgroundDelay = 1, expiresFrequency = 1;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(v);
                case "--timeout" -> timeout = Integer.parseInt(v);
                case "--background-delay" -> backgroundDelay = Integer.parseInt(v);
                case "--expires-frequency" -> expiresFrequency = Integer.parseInt(v);
                default -> {
                    System.err.println("usage: SeedSite --port P [--timeout S] [--background-delay S] [--expires-frequency N]");
                    System.exit(2);
                }
            }
            i++;
        }

        File base = Files.createTempDirectory("sessionspec-tomcat").toFile();
        base.deleteOnExit();
        Tomcat tomcat = new Tomcat();
        tomcat.setBaseDir(base.getAbsolutePath());
        Connector connector = tomcat.getConnector();
        connector.setPort(port);
        connector.setProperty("address", "127.0.0.1");
        tomcat.getEngine().setBackgroundProcessorDelay(backgroundDelay);

        Context ctx = tomcat.addContext("", null);
        StandardManager manager = new StandardManager();
        manager.setProcessExpiresFrequency(expiresFrequency);
        manager.setPathname(null); // no sessions saved across restarts
        ctx.setManager(manager);

        String discovery = String.format(
                "{\"sessionspec\":1,\"implementation\":\"%s (embedded; StandardManager, "
                        + "backgroundProcessorDelay %d s, processExpiresFrequency %d)\","
                        + "\"cookie\":\"JSESSIONID\",\"timeout_seconds\":%d,"
                        + "\"paths\":{\"session\":\"/\",\"expire\":\"/expire\",\"logme\":\"/logme\","
                        + "\"expired\":\"/expired\",\"counter\":\"/counter\",\"clock\":\"\",\"ws\":\"/ws\"}}",
                ServerInfo.getServerInfo(), backgroundDelay, expiresFrequency, timeout);
        final int t = timeout;
        // Tomcat's WebSocket container (what a webapp gets from its jar scan):
        // the ServerContainer attribute, WsFilter on /*, WsSessionListener.
        ctx.addServletContainerInitializer(new WsSci(), null);
        // The web application, set up through the Servlet API as a
        // ServletContainerInitializer would in any container.
        ctx.addServletContainerInitializer(new ServletContainerInitializer() {
            @Override
            public void onStartup(Set<Class<?>> c, ServletContext sc) {
                sc.addListener(new Sessions(t));
                // "" is the Servlet spec's exact match for the context root.
                sc.addServlet("show", new ShowSession()).addMapping("");
                sc.addServlet("expire", new ExpireSession()).addMapping("/expire");
                sc.addServlet("logme", new ExpirationLogger()).addMapping("/logme");
                sc.addServlet("expired", new Expired()).addMapping("/expired");
                sc.addServlet("counter", new Counter()).addMapping("/counter");
                sc.addServlet("discovery", new Discovery(discovery)).addMapping("/.well-known/sessionspec");
                sc.addServlet("ws", new WsFallback()).addMapping("/ws");
                // isMatchAfter false: before Tomcat's WsFilter (mapped after, on /*).
                sc.addFilter("ws-gate", new WsGate()).addMappingForUrlPatterns(null, false, "/ws");
                ServerContainer container = (ServerContainer) sc.getAttribute(ServerContainer.class.getName());
                try {
                    container.addEndpoint(ServerEndpointConfig.Builder.create(AttachedEndpoint.class, "/ws")
                            .configurator(new AttachConfigurator()).build());
                } catch (jakarta.websocket.DeploymentException e) {
                    throw new IllegalStateException(e);
                }
            }
        }, null);

        tomcat.start();
        // --port 0 (the default): the kernel picks a free port, which
        // Tomcat holds from here on; the line says which.
        System.out.println(ServerInfo.getServerInfo() + " listening on http://127.0.0.1:" + connector.getLocalPort()
                + "/ (session timeout " + timeout + " s)");
        tomcat.getServer().await();
    }
}
