package dev.jevons.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** One upstream's pool of idle keep-alive connections, on real sockets to a local listener. */
@Timeout(30)
class IdleConnectionsTest {
  private ServerSocket listener;
  private final List<Socket> accepted = new ArrayList<>();
  private final List<HttpConnection> opened = new ArrayList<>();

  @BeforeEach
  void listen() throws IOException {
    listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(() -> {
      while (!listener.isClosed()) {
        try {
          Socket s = listener.accept();
          synchronized (accepted) {
            accepted.add(s);
          }
        } catch (IOException e) {
          return; // closed at the end of the test
        }
      }
    });
  }

  @AfterEach
  void close() throws IOException {
    opened.forEach(HttpConnection::close);
    listener.close();
    synchronized (accepted) {
      for (Socket s : accepted) {
        s.close();
      }
    }
  }

  private HttpConnection connect() throws IOException {
    HttpConnection c = HttpConnection.open(URI.create("http://127.0.0.1:" + listener.getLocalPort() + "/v1"), 2_000, 2_000);
    c.idleSinceNanos = System.nanoTime();
    opened.add(c);
    return c;
  }

  @Test
  void keeps_at_most_its_capacity_and_hands_out_the_most_recently_used_first() throws IOException {
    UpstreamClient.IdleConnections pool = new UpstreamClient.IdleConnections(3);
    List<HttpConnection> cs = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      cs.add(connect());
    }
    assertThat(pool.offer(cs.get(0))).isTrue();
    assertThat(pool.offer(cs.get(1))).isTrue();
    assertThat(pool.offer(cs.get(2))).isTrue();
    assertThat(pool.offer(cs.get(3))).as("a fourth idle connection is over the cap").isFalse();
    assertThat(pool.size()).isEqualTo(3);

    assertThat(pool.pollNewest()).isSameAs(cs.get(2));
    assertThat(pool.size()).isEqualTo(2);
    assertThat(pool.offer(cs.get(4))).as("a freed place is taken again").isTrue();
    assertThat(pool.pollOldest()).isSameAs(cs.get(0));
    assertThat(pool.pollNewest()).isSameAs(cs.get(4));
    assertThat(pool.pollNewest()).isSameAs(cs.get(1));
    assertThat(pool.pollNewest()).isNull();
    assertThat(pool.size()).isZero();
  }

  @Test
  void closes_connections_idle_longer_than_the_limit_oldest_first_and_stops_at_a_fresh_one() throws IOException {
    UpstreamClient.IdleConnections pool = new UpstreamClient.IdleConnections(8);
    HttpConnection stale1 = connect();
    HttpConnection stale2 = connect();
    HttpConnection fresh = connect();
    long longAgo = System.nanoTime() - UpstreamClient.MAX_IDLE_NANOS - 1;
    stale1.idleSinceNanos = longAgo;
    stale2.idleSinceNanos = longAgo;
    pool.offer(stale1);
    pool.offer(stale2);
    pool.offer(fresh);

    pool.closeStale();

    assertThat(stale1.isClosed()).isTrue();
    assertThat(stale2.isClosed()).isTrue();
    assertThat(fresh.isClosed()).isFalse();
    assertThat(pool.size()).as("the count follows what was taken out").isEqualTo(1);
    assertThat(pool.pollNewest()).isSameAs(fresh);
    assertThat(pool.size()).isZero();
  }
}
