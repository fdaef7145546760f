package dev.jevons.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code jevons admin ...}: the admin API from the command line. It talks HTTP to a running
 * Jevons, so it works the same against a laptop and a production cluster.
 */
@Command(
    name = "admin",
    mixinStandardHelpOptions = true,
    description = "Manage accounts, API keys, prices, credits, codes, usage and the governor of a running Jevons through its admin API.",
    subcommands = {
      AdminCommand.Accounts.class, AdminCommand.Keys.class, AdminCommand.Credits.class, AdminCommand.Prices.class, AdminCommand.Codes.class,
      AdminUsageCommand.class, AdminGovernorCommand.class})
public final class AdminCommand implements Runnable {
  @Option(names = "--url", defaultValue = "${env:JEVONS_URL:-http://127.0.0.1:8080}", description = "Jevons base URL (default $JEVONS_URL or ${DEFAULT-VALUE}).")
  String url = "http://127.0.0.1:8080";

  @Option(names = "--token", defaultValue = "${env:JEVONS_ADMIN_TOKEN}", description = "Admin token (default $JEVONS_ADMIN_TOKEN, else read from DATA/admin-token).")
  @Nullable String token;

  @Option(names = "--data", defaultValue = "./data", description = "Data directory holding admin-token when --token is not given (default ${DEFAULT-VALUE}).")
  Path dataDir = Path.of("./data");

  PrintStream out = System.out;
  PrintStream err = System.err;

  @Override
  public void run() {
    out.println("Use a subcommand: accounts, keys or prices. See 'jevons admin --help'.");
  }

  /** Sends one admin request and prints the answer; returns the exit code. */
  int call(String method, String path, @Nullable ObjectNode body) {
    ObjectMapper json = new ObjectMapper();
    String t = token;
    if (t == null || t.isBlank()) {
      Path file = dataDir.resolve("admin-token");
      try {
        t = Files.readString(file, StandardCharsets.UTF_8).trim();
      } catch (IOException e) {
        err.println("jevons admin: no admin token: set JEVONS_ADMIN_TOKEN, pass --token, or run where " + file + " exists");
        return 2;
      }
    }
    HttpRequest.Builder req =
        HttpRequest.newBuilder(URI.create(url.replaceAll("/+$", "") + path))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + t)
            .header("Content-Type", "application/json");
    req.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body.toString()));
    try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
      HttpResponse<String> res = client.send(req.build(), HttpResponse.BodyHandlers.ofString());
      JsonNode node;
      try {
        node = json.readTree(res.body());
      } catch (IOException e) {
        node = null;
      }
      if (res.statusCode() >= 400) {
        String msg = node != null ? node.path("error").path("message").asText(res.body()) : res.body();
        err.println("jevons admin: HTTP " + res.statusCode() + ": " + msg);
        return 1;
      }
      out.println(node != null ? json.writerWithDefaultPrettyPrinter().writeValueAsString(node) : res.body());
      return 0;
    } catch (ConnectException e) {
      err.println("jevons admin: cannot connect to " + url + " (is 'jevons serve' running? set --url or JEVONS_URL)");
      return 1;
    } catch (IOException e) {
      err.println("jevons admin: " + e.getMessage());
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    }
  }

  static ObjectNode object() {
    return new ObjectMapper().createObjectNode();
  }

  @Command(name = "accounts", mixinStandardHelpOptions = true, description = "Create, list, show, suspend and activate accounts.",
      subcommands = {
        Accounts.Create.class, Accounts.ListAll.class, Accounts.Show.class, Accounts.Suspend.class, Accounts.Activate.class, Accounts.Tier.class
      })
  static final class Accounts implements Runnable {
    @ParentCommand AdminCommand admin;

    @Override
    public void run() {
      admin.out.println("Use: create, list, show, suspend or activate. See 'jevons admin accounts --help'.");
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create an account.")
    static final class Create implements Callable<Integer> {
      @ParentCommand Accounts parent;
      @Parameters(paramLabel = "NAME", description = "Account name.") String name;

      @Override
      public Integer call() {
        return parent.admin.call("POST", "/admin/v1/accounts", object().put("name", name));
      }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List accounts.")
    static final class ListAll implements Callable<Integer> {
      @ParentCommand Accounts parent;
      @Option(names = "--limit", defaultValue = "100", description = "Page size, 1 to 1000.") int limit;
      @Option(names = "--after", description = "Account id to start after.") @Nullable String after;

      @Override
      public Integer call() {
        String q = "?limit=" + limit + (after == null ? "" : "&after=" + after);
        return parent.admin.call("GET", "/admin/v1/accounts" + q, null);
      }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show an account and its keys.")
    static final class Show implements Callable<Integer> {
      @ParentCommand Accounts parent;
      @Parameters(paramLabel = "ACCOUNT_ID") String id;

      @Override
      public Integer call() {
        return parent.admin.call("GET", "/admin/v1/accounts/" + id, null);
      }
    }

    @Command(name = "suspend", mixinStandardHelpOptions = true, description = "Suspend an account: its keys stop working.")
    static final class Suspend implements Callable<Integer> {
      @ParentCommand Accounts parent;
      @Parameters(paramLabel = "ACCOUNT_ID") String id;

      @Override
      public Integer call() {
        return parent.admin.call("PATCH", "/admin/v1/accounts/" + id, object().put("status", "suspended"));
      }
    }

    @Command(
        name = "tier",
        mixinStandardHelpOptions = true,
        description = "Set an account's priority band (0 served first, 1 default, 2 last) and its weight for fair sharing within the band.")
    static final class Tier implements Callable<Integer> {
      @ParentCommand Accounts parent;
      @Parameters(paramLabel = "ACCOUNT_ID") String id;

      @Option(names = "--band", description = "0, 1 or 2.")
      @Nullable Integer band;

      @Option(names = "--weight", description = "1 to 1000.")
      @Nullable Integer weight;

      @Override
      public Integer call() {
        var body = object();
        if (band != null) {
          body.put("band", band);
        }
        if (weight != null) {
          body.put("weight", weight);
        }
        return parent.admin.call("PATCH", "/admin/v1/accounts/" + id, body);
      }
    }

    @Command(name = "activate", mixinStandardHelpOptions = true, description = "Re-activate a suspended account.")
    static final class Activate implements Callable<Integer> {
      @ParentCommand Accounts parent;
      @Parameters(paramLabel = "ACCOUNT_ID") String id;

      @Override
      public Integer call() {
        return parent.admin.call("PATCH", "/admin/v1/accounts/" + id, object().put("status", "active"));
      }
    }
  }

  @Command(name = "keys", mixinStandardHelpOptions = true, description = "Create, list and revoke API keys.",
      subcommands = {Keys.Create.class, Keys.ListAll.class, Keys.Revoke.class})
  static final class Keys implements Runnable {
    @ParentCommand AdminCommand admin;

    @Override
    public void run() {
      admin.out.println("Use: create, list or revoke. See 'jevons admin keys --help'.");
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create an API key; the key is printed once.")
    static final class Create implements Callable<Integer> {
      @ParentCommand Keys parent;
      @Parameters(paramLabel = "ACCOUNT_ID") String accountId;
      @Option(names = "--name", defaultValue = "default", description = "Key name.") String name;
      @Option(names = "--models", split = ",", description = "Models the key may use (default: all).") List<String> models = List.of();
      @Option(names = "--expires-at", description = "Expiry, ISO-8601 (e.g. 2027-01-01T00:00:00Z).") @Nullable String expiresAt;

      @Override
      public Integer call() {
        ObjectNode body = object().put("name", name);
        if (!models.isEmpty()) {
          models.forEach(body.putArray("models")::add);
        }
        if (expiresAt != null) {
          body.put("expires_at", expiresAt);
        }
        return parent.admin.call("POST", "/admin/v1/accounts/" + accountId + "/keys", body);
      }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List an account's keys (prefixes only).")
    static final class ListAll implements Callable<Integer> {
      @ParentCommand Keys parent;
      @Parameters(paramLabel = "ACCOUNT_ID") String accountId;

      @Override
      public Integer call() {
        return parent.admin.call("GET", "/admin/v1/accounts/" + accountId + "/keys", null);
      }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a key; it stops working within a second everywhere.")
    static final class Revoke implements Callable<Integer> {
      @ParentCommand Keys parent;
      @Parameters(paramLabel = "KEY_ID") String keyId;

      @Override
      public Integer call() {
        return parent.admin.call("DELETE", "/admin/v1/keys/" + keyId, null);
      }
    }
  }

  @Command(name = "prices", mixinStandardHelpOptions = true, description = "Show and change model prices (USD per 1M tokens).",
      subcommands = {Prices.ListAll.class, Prices.Get.class, Prices.Change.class})
  static final class Prices implements Runnable {
    @ParentCommand AdminCommand admin;

    @Override
    public void run() {
      admin.out.println("Use: list, get or set. See 'jevons admin prices --help'.");
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show the prices of every model.")
    static final class ListAll implements Callable<Integer> {
      @ParentCommand Prices parent;

      @Override
      public Integer call() {
        return parent.admin.call("GET", "/admin/v1/prices", null);
      }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Show a model's price now, its schedule and its discount windows.")
    static final class Get implements Callable<Integer> {
      @ParentCommand Prices parent;
      @Parameters(paramLabel = "MODEL") String model;

      @Override
      public Integer call() {
        return parent.admin.call("GET", "/admin/v1/prices/" + model, null);
      }
    }

    @Command(name = "set", mixinStandardHelpOptions = true,
        description = "Set a model's prices, now or from a future instant (a scheduled change).")
    static final class Change implements Callable<Integer> {
      @ParentCommand Prices parent;
      @Parameters(paramLabel = "MODEL") String model;
      @Option(names = "--hit", required = true, description = "USD per 1M cache-hit input tokens, e.g. 0.028.") String hit;
      @Option(names = "--miss", required = true, description = "USD per 1M cache-miss input tokens, e.g. 0.28.") String miss;
      @Option(names = "--output", required = true, description = "USD per 1M output tokens, e.g. 0.42.") String output;
      @Option(names = "--effective-from", description = "When the prices take effect, ISO-8601 (default: now).") @Nullable String effectiveFrom;

      @Override
      public Integer call() {
        ObjectNode body = object().put("input_cache_hit", hit).put("input_cache_miss", miss).put("output", output);
        if (effectiveFrom != null) {
          body.put("effective_from", effectiveFrom);
        }
        return parent.admin.call("PUT", "/admin/v1/prices/" + model, body);
      }
    }
  }

  @Command(name = "credits", mixinStandardHelpOptions = true, description = "Credit accounts and show balances.",
      subcommands = {Credits.Add.class, Credits.Balance.class})
  static final class Credits implements Runnable {
    @ParentCommand AdminCommand admin;

    @Override
    public void run() {
      admin.out.println("Use: add or balance. See 'jevons admin credits --help'.");
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
        description = "Credit an account once per idempotency key (topped-up by default; --granted with --expires-at for a grant).")
    static final class Add implements Callable<Integer> {
      @ParentCommand Credits parent;
      @Parameters(index = "0", paramLabel = "ACCOUNT_ID") String accountId;
      @Parameters(index = "1", paramLabel = "AMOUNT", description = "Decimal amount in USD, e.g. 10.00.") String amount;
      @Option(names = "--idempotency-key", required = true, description = "Unique per credit; repeating it credits once.") String key;
      @Option(names = "--granted", description = "A granted (expiring, spent first) credit instead of a top-up.") boolean granted;
      @Option(names = "--expires-at", description = "Expiry of a grant, ISO-8601.") @Nullable String expiresAt;

      @Override
      public Integer call() {
        ObjectNode body = object().put("amount", amount).put("kind", granted ? "granted" : "topped_up").put("idempotency_key", key);
        if (expiresAt != null) {
          body.put("expires_at", expiresAt);
        }
        return parent.admin.call("POST", "/admin/v1/accounts/" + accountId + "/credits", body);
      }
    }

    @Command(name = "balance", mixinStandardHelpOptions = true, description = "Show an account's balance.")
    static final class Balance implements Callable<Integer> {
      @ParentCommand Credits parent;
      @Parameters(paramLabel = "ACCOUNT_ID") String accountId;

      @Override
      public Integer call() {
        return parent.admin.call("GET", "/admin/v1/accounts/" + accountId + "/balance", null);
      }
    }
  }

  @Command(name = "codes", mixinStandardHelpOptions = true, description = "Create redemption codes.", subcommands = {Codes.Create.class})
  static final class Codes implements Runnable {
    @ParentCommand AdminCommand admin;

    @Override
    public void run() {
      admin.out.println("Use: create. See 'jevons admin codes --help'.");
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
        description = "Create a batch of codes, each crediting AMOUNT once; only their hashes are stored, so save the output.")
    static final class Create implements Callable<Integer> {
      @ParentCommand Codes parent;
      @Option(names = "--amount", required = true, description = "Decimal amount in USD per code, e.g. 10.00.") String amount;
      @Option(names = "--count", defaultValue = "1", description = "How many codes, 1 to 10000 (default: ${DEFAULT-VALUE}).") int count;
      @Option(names = "--expires-at", description = "Expiry of the codes, ISO-8601.") @Nullable String expiresAt;

      @Override
      public Integer call() {
        ObjectNode body = object().put("amount", amount).put("count", count);
        if (expiresAt != null) {
          body.put("expires_at", expiresAt);
        }
        return parent.admin.call("POST", "/admin/v1/redemption-codes", body);
      }
    }
  }
}
