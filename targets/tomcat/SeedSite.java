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
//
// The timeout is set Tomcat's way, HttpSession.setMaxInactiveInterval (whole
// seconds), on every session as Tomcat makes it (sessionCreated). Tomcat has
// no injectable clock (System.currentTimeMillis), so there is no /_clock.
//
// Usage: java -cp BUILD:TOMCAT_JARS SeedSite --port P [--timeout SECONDS]
//        [--background-delay SECONDS] [--expires-frequency N]
// --background-delay and --expires-frequency are Tomcat's own settings
// (Engine backgroundProcessorDelay, Manager processExpiresFrequency): how
// often Tomcat looks for sessions that timed out without a request. Their
// defaults here, 1 and 1, are the finest Tomcat allows; Tomcat's own
// defaults are 10 and 6 (a check every 60 s).

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import jakarta.servlet.ServletContainerInitializer;
import jakarta.servlet.ServletContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import jakarta.servlet.http.HttpSessionEvent;
import jakarta.servlet.http.HttpSessionListener;

import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.session.StandardManager;
import org.apache.catalina.startup.Tomcat;
import org.apache.catalina.util.ServerInfo;

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
            Integer n = (Integer) s.getAttribute(COUNTER);
            n = n == null ? 1 : n + 1;
            s.setAttribute(COUNTER, n);
            text(resp, "Visit #" + n + " for you!");
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
        int port = 8080, timeout = 2, backgroundDelay = 1, expiresFrequency = 1;
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
                        + "\"expired\":\"/expired\",\"counter\":\"/counter\",\"clock\":\"\"}}",
                ServerInfo.getServerInfo(), backgroundDelay, expiresFrequency, timeout);
        final int t = timeout;
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
            }
        }, null);

        tomcat.start();
        System.out.println(ServerInfo.getServerInfo() + " on http://127.0.0.1:" + port + "/ (session timeout " + timeout + " s)");
        tomcat.getServer().await();
    }
}
