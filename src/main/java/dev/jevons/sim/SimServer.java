package dev.jevons.sim;

import io.helidon.http.HeaderNames;
import io.helidon.webserver.WebServer;
import java.net.URI;
import java.time.Duration;
import java.time.InstantSource;
import java.util.function.LongSupplier;

/**
 * One simulated inference server: an {@link EngineModel} behind OpenAI-compatible HTTP routes
 * ({@code /v1/models}, {@code /v1/chat/completions}, {@code /v1/completions}), plus {@code /health}
 * and {@code /metrics} with vLLM's metric names. Listens on 127.0.0.1 only.
 */
public final class SimServer implements AutoCloseable {
  /** Larger than any realistic prompt within the 64k-token model length; Helidon answers 413. */
  static final long MAX_BODY_BYTES = 8L << 20;

  private final WebServer server;
  private final EngineRunner runner;

  private SimServer(WebServer server, EngineRunner runner) {
    this.server = server;
    this.runner = runner;
  }

  /** Starts a server on {@code port} (0 = ephemeral) with the system clocks. */
  public static SimServer start(SimConfig config, int port) {
    return start(config, port, System::nanoTime, InstantSource.system(), OpenAiHandler.KEEP_ALIVE_NANOS);
  }

  static SimServer start(
      SimConfig config, int port, LongSupplier ticker, InstantSource clock, long keepAliveNanos) {
    if (port < 0 || port > 65_535) throw new IllegalArgumentException("port out of range: " + port);
    SimMetrics metrics = new SimMetrics();
    EngineRunner runner = new EngineRunner(config.engineProfile(), config.timeScale(), ticker, metrics);
    OpenAiHandler api = new OpenAiHandler(config, runner, metrics, clock, ticker.getAsLong(), keepAliveNanos);
    try {
      WebServer server =
          WebServer.builder()
              .host("127.0.0.1")
              .port(port)
              .maxPayloadSize(MAX_BODY_BYTES)
              .shutdownGracePeriod(Duration.ofMillis(200))
              .shutdownHook(false)
              .routing(
                  r ->
                      r.get("/health", (req, res) -> {
                            res.header(HeaderNames.CONTENT_TYPE, "application/json");
                            res.send("{\"status\":\"ok\"}");
                          })
                          .get("/metrics", api::metrics)
                          .get("/v1/models", api::models)
                          .post("/v1/chat/completions", api::chat)
                          .post("/v1/completions", api::completions))
              .build()
              .start();
      if (!server.isRunning()) { // Helidon logs why (a port in use) and returns a stopped server
        server.stop();
        throw new IllegalStateException("cannot listen on 127.0.0.1:" + port);
      }
      return new SimServer(server, runner);
    } catch (RuntimeException e) {
      runner.close();
      throw e;
    }
  }

  public int port() {
    return server.port();
  }

  /** Like {@code http://127.0.0.1:8000/v1}. */
  public URI baseUrl() {
    return URI.create("http://127.0.0.1:" + port() + "/v1");
  }

  /** The engine's counters now (running and waiting sequences, tokens), as /metrics reports them. */
  public EngineModel.Stats stats() {
    return runner.stats();
  }

  @Override
  public void close() {
    runner.close();
    server.stop();
  }
}
