package dev.jevons.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.config.ConfigLoader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class JevonsAppStartTest {
  /** A port in use is found before anything is started or written: no database, no admin token, no ledger claim. */
  @Test
  void a_port_in_use_fails_the_start_before_the_data_directory_is_touched(@TempDir Path tmp) throws Exception {
    Path data = tmp.resolve("data");
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      int port = taken.getLocalPort();
      assertThatThrownBy(() -> JevonsApp.start(new ConfigLoader()
              .override("server.host", "127.0.0.1")
              .override("server.port", port)
              .override("data_dir", data.toString())
              .load()))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("cannot listen on 127.0.0.1:" + port)
          .hasMessageContaining("is another server using the port?");
    }
    assertThat(Files.exists(data)).as("nothing created under %s", data).isFalse();
  }
}
