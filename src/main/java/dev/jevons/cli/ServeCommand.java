package dev.jevons.cli;

import dev.jevons.config.ConfigException;
import dev.jevons.config.JevonsConfig;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code jevons serve}: the gateway, with built-in simulated replicas unless upstreams are given. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = {
      "Starts the Jevons gateway.",
      "With no upstream configured it starts two simulated inference replicas in-process serving sim-chat and sim-reasoner.",
      "Precedence: flags > JEVONS_* environment variables > the --config file > defaults."
    })
public final class ServeCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

  @Mixin ServeOptions options = new ServeOptions();

  @Override
  public Integer call() {
    JevonsConfig config;
    try {
      config = load(System.getenv());
    } catch (ConfigException e) {
      System.err.println("jevons: invalid configuration:");
      e.problems().forEach(p -> System.err.println("  - " + p));
      return 2;
    }
    installJulBridge();
    StringBuilder effective = new StringBuilder("effective configuration:");
    config.describe().forEach((k, v) -> effective.append("\n  ").append(k).append(" = ").append(v));
    log.info(effective.toString());

    JevonsApp app;
    try {
      app = JevonsApp.start(config);
    } catch (RuntimeException e) {
      // The database, the port, the ledger's claim: say what, not where in the code.
      log.debug("start failed", e);
      System.err.println("jevons: cannot start: " + e.getMessage());
      return 1;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      app.close();
      stopped.countDown();
    }, "jevons-shutdown"));
    printBanner(app);
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  JevonsConfig load(Map<String, String> env) {
    return options.loader(env).load();
  }

  static void installJulBridge() {
    if (!SLF4JBridgeHandler.isInstalled()) {
      SLF4JBridgeHandler.removeHandlersForRootLogger();
      SLF4JBridgeHandler.install();
    }
  }

  private static void printBanner(JevonsApp app) {
    String url = app.baseUrl().toString();
    StringBuilder b = new StringBuilder();
    b.append("\nJevons is listening on ").append(url).append("\n");
    b.append("  OpenAI base URL: ").append(url).append("/v1\n");
    b.append("  upstreams:       ");
    app.pool().replicas().forEach(r -> b.append(r.name()).append(' ').append(r.baseUrl()).append(' ').append(r.models()).append("; "));
    b.append("\n  admin token:     ").append(app.adminToken());
    if (app.adminTokenGenerated()) {
      b.append("   (generated and saved in ").append(app.config().dataDir().resolve("admin-token")).append(")");
    }
    String model = app.pool().models().stream().findFirst().orElse("MODEL");
    b.append("\n\nTry it:\n");
    b.append("  export JEVONS_ADMIN_TOKEN=").append(app.adminToken()).append("\n");
    b.append("  ACCOUNT=$(curl -s ").append(url).append("/admin/v1/accounts -H \"Authorization: Bearer $JEVONS_ADMIN_TOKEN\" -d '{\"name\":\"demo\"}' | sed 's/.*\"id\":\"\\([^\"]*\\)\".*/\\1/')\n");
    b.append("  curl -s ").append(url).append("/admin/v1/accounts/$ACCOUNT/credits -H \"Authorization: Bearer $JEVONS_ADMIN_TOKEN\" -d '{\"amount\":\"5.00\",\"idempotency_key\":\"first-top-up\"}'\n");
    b.append("  KEY=$(curl -s ").append(url).append("/admin/v1/accounts/$ACCOUNT/keys -H \"Authorization: Bearer $JEVONS_ADMIN_TOKEN\" -d '{\"name\":\"laptop\"}' | sed 's/.*\"key\":\"\\([^\"]*\\)\".*/\\1/')\n");
    b.append("  curl ").append(url).append("/v1/chat/completions -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' \\\n");
    b.append("    -d '{\"model\":\"").append(model).append("\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'\n");
    System.out.println(b);
    System.out.flush();
  }
}
