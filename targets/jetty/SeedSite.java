// The seed examples of Twisted Web's session howtos on Eclipse Jetty 9.4
// (Debian libjetty9-java), embedded: every session is Jetty's own
// HttpSession, made, found, refreshed and expired by Jetty's SessionHandler
// (DefaultSessionCache over a NullSessionDataStore, Jetty's defaults for a
// ServletContextHandler with sessions). The adapter only maps the seed
// resources onto the Servlet API:
//
//   /          ShowSession: "Your session id is: " + request.getSession().getId()
//              (Jetty's cluster id, "node0<random>"; its cookie carries the
//              extended id, "<cluster id>.node0", the worker name appended),
//              and, as in targets/tomcat, a link to /counter built with
//              response.encodeURL, the Servlet API's documented way to keep a
//              session for a client without cookies (checked by URL-001)
//   /expire    ExpireSession: request.getSession().invalidate()
//   /logme     ExpirationLogger: marks the session once; the HttpSessionListener
//              below logs its id when Jetty destroys it (sessionDestroyed)
//   /expired   the logged ids, one per line
//   /counter   the session-store example: a counter kept as a session attribute
//   /.well-known/sessionspec  the discovery document
//
// The timeout is set Jetty's way, SessionHandler.setMaxInactiveInterval
// (whole seconds), the default of every session it makes. Jetty reads
// System.currentTimeMillis() and has no injectable clock, so there is no
// /_clock.
//
// Expiry of a session nobody visits: each session's inactivity timer fires
// when its timeout has passed and, while the HouseKeeper scavenges
// (interval > 0), only makes it a candidate; the HouseKeeper's next
// scavenge invalidates it (sessionDestroyed). With --scavenge 0 (scavenging
// off) the timer invalidates it itself. A request that brings an expired
// session's cookie ends it at once and gets a new one.
//
// Usage: java -cp BUILD:JETTY_JARS SeedSite [--port P] [--timeout SECONDS]
//        [--scavenge SECONDS]
// --scavenge is HouseKeeper.setIntervalSec: 600 is Jetty's default
// (HouseKeeper.DEFAULT_PERIOD_MS), 0 turns scavenging off. The server binds
// 127.0.0.1 (port 0 by default: the kernel picks) and prints
// "listening on http://127.0.0.1:PORT/" once it serves.

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import javax.servlet.http.HttpSession;
import javax.servlet.http.HttpSessionEvent;
import javax.servlet.http.HttpSessionListener;

import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.session.DefaultSessionIdManager;
import org.eclipse.jetty.server.session.HouseKeeper;
import org.eclipse.jetty.server.session.SessionHandler;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

public class SeedSite {
    static final String LOGME = "sessionspec.logme";
    static final String COUNTER = "sessionspec.counter";

    /** The ids whose expiry notification fired, in order. */
    static final List<String> expired = new ArrayList<>();

    /** Logs the destruction of marked sessions. */
    static class Sessions implements HttpSessionListener {
        @Override
        public void sessionCreated(HttpSessionEvent se) {
        }

        @Override
        public void sessionDestroyed(HttpSessionEvent se) {
            // Jetty calls it before it removes the attributes (Session.doInvalidate).
            HttpSession s = se.getSession();
            if (s.getAttribute(LOGME) != null) {
                synchronized (expired) {
                    expired.add(s.getId());
                }
                System.out.println("Session " + s.getId() + " has expired.");
            }
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
            // encodeURL adds ";jsessionid=<id>" when Jetty does not know yet that the
            // client returns cookies: the URL-rewriting half of the Servlet API's
            // session tracking.
            String counter = resp.encodeURL(req.getContextPath() + "/counter");
            resp.setContentType("text/html;charset=utf-8");
            resp.getWriter().print("Your session id is: " + id + "\n<p><a href=\"" + attribute(counter) + "\">count your visits</a></p>\n");
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
        int port = 0, timeout = 2;
        long scavenge = HouseKeeper.DEFAULT_PERIOD_MS / 1000;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            try {
                switch (args[i]) {
                    case "--port" -> port = Integer.parseInt(v);
                    case "--timeout" -> timeout = Integer.parseInt(v);
                    case "--scavenge" -> scavenge = Long.parseLong(v);
                    default -> throw new IllegalArgumentException(args[i]);
                }
            } catch (IllegalArgumentException e) {
                System.err.println("usage: SeedSite [--port P] [--timeout SECONDS] [--scavenge SECONDS]");
                System.exit(2);
            }
            i++;
        }

        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(port);
        server.addConnector(connector);

        // The HouseKeeper Jetty would make itself, with the scavenge interval given.
        DefaultSessionIdManager ids = new DefaultSessionIdManager(server);
        HouseKeeper keeper = new HouseKeeper();
        keeper.setSessionIdManager(ids);
        keeper.setIntervalSec(scavenge);
        ids.setSessionHouseKeeper(keeper);
        server.setSessionIdManager(ids);

        ServletContextHandler ctx = new ServletContextHandler(ServletContextHandler.SESSIONS);
        ctx.setContextPath("/");
        SessionHandler sessions = ctx.getSessionHandler();
        sessions.setMaxInactiveInterval(timeout);
        sessions.addEventListener(new Sessions());
        // "" is the Servlet spec's exact match for the context root.
        ctx.addServlet(new ServletHolder(new ShowSession()), "");
        ctx.addServlet(new ServletHolder(new ExpireSession()), "/expire");
        ctx.addServlet(new ServletHolder(new ExpirationLogger()), "/logme");
        ctx.addServlet(new ServletHolder(new Expired()), "/expired");
        ctx.addServlet(new ServletHolder(new Counter()), "/counter");
        String scavenging = scavenge > 0 ? "HouseKeeper scavenging every " + scavenge + " s" : "scavenging off";
        String discovery = String.format(
                "{\"sessionspec\":1,\"implementation\":\"Jetty %s (embedded; DefaultSessionCache, NullSessionDataStore, %s)\","
                        + "\"cookie\":\"%s\",\"timeout_seconds\":%d,"
                        + "\"paths\":{\"session\":\"/\",\"expire\":\"/expire\",\"logme\":\"/logme\","
                        + "\"expired\":\"/expired\",\"counter\":\"/counter\",\"clock\":\"\"}}",
                Server.getVersion(), scavenging, sessions.getSessionCookieConfig().getName(), timeout);
        ctx.addServlet(new ServletHolder(new Discovery(discovery)), "/.well-known/sessionspec");
        server.setHandler(ctx);

        server.start();
        System.out.println("Jetty " + Server.getVersion() + " (" + scavenging + ", session timeout " + timeout
                + " s) listening on http://127.0.0.1:" + connector.getLocalPort() + "/");
        server.join();
    }
}
