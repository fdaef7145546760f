import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Holds N concurrent streaming chat completions open through a gateway, for memory measurements.
 * One virtual thread and one plain socket per stream (no client library), so the client side stays
 * small next to the server it measures. Prints "OPEN n" once every stream has received its first
 * SSE event (or the wait times out), then a status line every few seconds until killed.
 *
 * <p>Run with the JDK's source launcher: {@code java bench/HoldStreams.java HOST PORT KEY N MAX_TOKENS}.
 */
public final class HoldStreams {
  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    String key = args[2];
    int n = Integer.parseInt(args[3]);
    int maxTokens = Integer.parseInt(args[4]);
    long waitSeconds = args.length > 5 ? Long.parseLong(args[5]) : 120;
    byte[] body =
        ("{\"model\":\"sim-chat\",\"stream\":true,\"ignore_eos\":true,\"max_tokens\":" + maxTokens
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"hold this stream open\"}]}")
            .getBytes(StandardCharsets.UTF_8);
    byte[] head =
        ("POST /v1/chat/completions HTTP/1.1\r\nHost: " + host + ":" + port
                + "\r\nAuthorization: Bearer " + key
                + "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: "
                + body.length + "\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII);
    AtomicInteger open = new AtomicInteger();
    AtomicInteger ended = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    CountDownLatch firstEvents = new CountDownLatch(n);
    for (int i = 0; i < n; i++) {
      Thread.ofVirtual().start(() -> {
        boolean counted = false;
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress(host, port), 30_000);
          OutputStream out = s.getOutputStream();
          out.write(head);
          out.write(body);
          out.flush();
          InputStream in = s.getInputStream();
          byte[] buf = new byte[2048];
          // "data:" may straddle two reads; remember the tail of the previous read.
          String carry = "";
          int r;
          while ((r = in.read(buf)) > 0) {
            if (!counted) {
              String text = carry + new String(buf, 0, r, StandardCharsets.ISO_8859_1);
              if (text.contains("data:")) {
                counted = true;
                open.incrementAndGet();
                firstEvents.countDown();
              } else {
                carry = text.substring(Math.max(0, text.length() - 8));
              }
            }
          }
          ended.incrementAndGet();
        } catch (Exception e) {
          failed.incrementAndGet();
        } finally {
          if (counted) {
            open.decrementAndGet();
          } else {
            firstEvents.countDown();
          }
        }
      });
      if (i % 50 == 49) {
        // About 200 new streams a second, so that connection set-up does not pile up on a busy
        // 2-core machine all at once.
        Thread.sleep(250);
      }
    }
    firstEvents.await(waitSeconds, TimeUnit.SECONDS);
    System.out.println("OPEN " + open.get() + " ended=" + ended.get() + " failed=" + failed.get());
    System.out.flush();
    while (true) {
      Thread.sleep(5_000);
      System.out.println("status open=" + open.get() + " ended=" + ended.get() + " failed=" + failed.get());
      System.out.flush();
    }
  }
}
