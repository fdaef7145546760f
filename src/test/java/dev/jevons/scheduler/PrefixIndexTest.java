package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.scheduler.PromptPrefix.Message;
import java.util.List;
import org.junit.jupiter.api.Test;

class PrefixIndexTest {
  static final String SYSTEM = "You are a careful assistant for ACME Corp. Answer briefly and cite the handbook. ".repeat(20);

  static List<Message> chat(String... userTurns) {
    java.util.ArrayList<Message> m = new java.util.ArrayList<>();
    m.add(new Message("system", SYSTEM));
    for (String u : userTurns) {
      m.add(new Message("user", u));
    }
    return m;
  }

  @Test
  void only_whole_blocks_are_hashed() {
    assertThat(PromptPrefix.ofPrompt("x".repeat(255)).blocks()).isZero();
    assertThat(PromptPrefix.ofPrompt("x".repeat(256)).blocks()).isEqualTo(1);
    assertThat(PromptPrefix.ofPrompt("x".repeat(256 * 3 + 100)).blocks()).isEqualTo(3);
    assertThat(PromptPrefix.ofPrompt("x".repeat(256 * (PromptPrefix.MAX_BLOCKS + 5))).blocks()).isEqualTo(PromptPrefix.MAX_BLOCKS);
  }

  @Test
  void prompts_that_share_a_prefix_share_exactly_the_blocks_of_that_prefix() {
    PromptPrefix a = PromptPrefix.ofMessages(chat("What is the refund policy? ".repeat(30)));
    PromptPrefix b = PromptPrefix.ofMessages(chat("How do I reset my password? ".repeat(30)));
    int shared = SYSTEM.length() / PromptPrefix.BLOCK_CHARS;
    for (int i = 0; i < shared; i++) {
      assertThat(a.hash(i)).isEqualTo(b.hash(i));
    }
    assertThat(a.hash(shared + 1)).isNotEqualTo(b.hash(shared + 1));
    assertThat(PromptPrefix.ofMessages(chat("What is the refund policy? ".repeat(30)))).isEqualTo(a);
  }

  @Test
  void the_same_text_in_another_role_is_another_prefix() {
    PromptPrefix system = PromptPrefix.ofMessages(List.of(new Message("system", SYSTEM)));
    PromptPrefix user = PromptPrefix.ofMessages(List.of(new Message("user", SYSTEM)));
    assertThat(system.hash(0)).isNotEqualTo(user.hash(0));
  }

  @Test
  void a_later_block_matches_only_after_the_same_earlier_blocks() {
    // Same second block text, different first block: the chain makes the second hash differ.
    String block = "b".repeat(256);
    assertThat(PromptPrefix.ofPrompt("a".repeat(256) + block).hash(1)).isNotEqualTo(PromptPrefix.ofPrompt("c".repeat(256) + block).hash(1));
  }

  @Test
  void matches_the_leading_blocks_a_replica_was_sent() {
    PrefixIndex index = new PrefixIndex(1000, 16);
    PromptPrefix first = PromptPrefix.ofMessages(chat("What is the refund policy? ".repeat(30)));
    PromptPrefix second = PromptPrefix.ofMessages(chat("How do I reset my password? ".repeat(30)));
    index.record("chat", "r1", first);
    assertThat(index.matchBlocks("chat", "r1", first)).isEqualTo(first.blocks());
    assertThat(index.matchBlocks("chat", "r1", second)).isEqualTo(SYSTEM.length() / PromptPrefix.BLOCK_CHARS);
    assertThat(index.matchBlocks("chat", "r2", first)).as("another replica").isZero();
    assertThat(index.matchBlocks("reasoner", "r1", first)).as("another model").isZero();
    index.forget("r1");
    assertThat(index.matchBlocks("chat", "r1", first)).isZero();
  }

  @Test
  void each_shard_holds_at_most_its_block_budget_and_drops_tails_before_roots() {
    PrefixIndex index = new PrefixIndex(10, 16);
    PromptPrefix shared = PromptPrefix.ofHashes(1, 2, 3, 4);
    for (int conversation = 0; conversation < 50; conversation++) {
      long base = 1000L * (conversation + 1);
      index.record("m", "r", PromptPrefix.ofHashes(1, 2, 3, 4, base + 1, base + 2, base + 3));
      assertThat(index.blocks("m", "r")).isLessThanOrEqualTo(10);
    }
    assertThat(index.matchBlocks("m", "r", shared)).as("the shared root survives").isEqualTo(4);
    assertThat(index.matchBlocks("m", "r", PromptPrefix.ofHashes(1, 2, 3, 4, 1001, 1002, 1003)))
        .as("an old conversation's tail is gone").isEqualTo(4);
    assertThat(index.matchBlocks("m", "r", PromptPrefix.ofHashes(1, 2, 3, 4, 50_001, 50_002, 50_003))).isEqualTo(7);
  }

  @Test
  void matching_does_not_change_what_is_evicted() {
    PrefixIndex index = new PrefixIndex(2, 16);
    index.record("m", "r", PromptPrefix.ofHashes(1));
    index.record("m", "r", PromptPrefix.ofHashes(2));
    index.matchBlocks("m", "r", PromptPrefix.ofHashes(1));
    index.record("m", "r", PromptPrefix.ofHashes(3));
    assertThat(index.matchBlocks("m", "r", PromptPrefix.ofHashes(1))).isZero();
    assertThat(index.matchBlocks("m", "r", PromptPrefix.ofHashes(2))).isEqualTo(1);
  }

  @Test
  void the_number_of_shards_is_bounded() {
    PrefixIndex index = new PrefixIndex(10, 3);
    for (int r = 0; r < 10; r++) {
      index.record("m", "r" + r, PromptPrefix.ofHashes(1));
    }
    assertThat(index.recordsRefused()).isEqualTo(7);
    assertThat(index.matchBlocks("m", "r9", PromptPrefix.ofHashes(1))).isZero();
  }
}
