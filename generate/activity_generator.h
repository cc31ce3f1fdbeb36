// ActivityGenerator: the content of synthetic directus_activity rows, drawn
// deterministically from a seed so tests can recompute what was written.
//
// It shapes traffic like a real site: collections and users with a Zipf
// skew, users who mostly keep one IP and one browser, a few hot IPs (an
// office NAT), flows that write rows without user, ip, user agent or
// origin, and the action mix Directus produces (see kActionShares in
// activity_generator.cc). It can also draw an attacker's rows and mix in
// hostile values Directus stores unchecked. Timestamps are not its
// business: HistoryRows or the live loop set them.
//
// Rows hold views into the generator's catalogs: they stay valid while the
// generator lives, so the generator is neither copied nor moved. One thread
// at a time.

#ifndef PULSE_GENERATE_ACTIVITY_GENERATOR_H_
#define PULSE_GENERATE_ACTIVITY_GENERATOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"
#include "generate/catalog.h"
#include "generate/random.h"

namespace pulse::generate {

struct GeneratorOptions {
  uint64_t seed = 1;
  uint32_t collections = 40;
  uint32_t users = 2000;
  uint32_t ips = 5000;
  // Share of rows carrying hostile values (odd ips, 10 KB user agents,
  // SQL-looking collection names, unicode, all-null columns).
  double hostile_fraction = 0;
  // Source address of FillAttack() rows; empty when there is no attacker.
  std::string attacker_ip;
};

// Names the first setting that is out of range.
Status ValidateGeneratorOptions(const GeneratorOptions& o);

// Who wrote a row, as far as Directus could tell.
enum class RowSource {
  kUser,      // a person or an API token, through the API
  kFlow,      // a flow: no user, ip, user agent or origin
  kAttacker,  // the attacker's address
};

// One activity row without its id (the table's sequence assigns it).
struct ActivityRow {
  EventTimeMs timestamp = 0;
  std::string_view action;
  std::optional<std::string_view> user;
  std::optional<std::string_view> ip;
  std::optional<std::string_view> user_agent;
  std::string_view collection;
  // Owned: formatted per row, its capacity reused across Fill() calls.
  std::string item;
  std::optional<std::string_view> origin;
  // Written only into the legacy shape (a `comment` column); drawn always,
  // so rows do not depend on the table's shape.
  std::optional<std::string_view> comment;

  RowSource source = RowSource::kUser;
  bool hostile = false;

  bool operator==(const ActivityRow&) const = default;
};

class ActivityGenerator {
 public:
  // `o` must pass ValidateGeneratorOptions.
  explicit ActivityGenerator(const GeneratorOptions& o);
  ActivityGenerator(const ActivityGenerator&) = delete;
  ActivityGenerator& operator=(const ActivityGenerator&) = delete;

  // Fills every field but the timestamp with the site's next row.
  void Fill(ActivityRow& row);
  // Fills every field but the timestamp with one of the attacker's rows:
  // many logins, edits across collections, a script's user agent. Needs
  // an attacker_ip.
  void FillAttack(ActivityRow& row);

  const Catalog& catalog() const { return catalog_; }

 private:
  void FillUserRow(uint32_t action, ActivityRow& row);
  void FillFlowRow(uint32_t action, ActivityRow& row);
  // Sets the collection an action touches and the item within it.
  void PickTarget(uint32_t action, Rng& rng, ActivityRow& row);
  void PickItem(uint32_t collection, bool create, Rng& rng, ActivityRow& row);
  void MakeHostile(ActivityRow& row);

  GeneratorOptions options_;
  Catalog catalog_;

  // Separate streams, so attacker rows and hostile values do not change
  // the site's other random choices.
  Rng rng_;
  Rng attack_rng_;
  Rng hostile_rng_;

  WeightedSampler actions_;
  WeightedSampler attack_actions_;
  WeightedSampler collections_;
  WeightedSampler users_;
  WeightedSampler user_agents_;
  WeightedSampler origins_;

  // Next new id per collection; existing items are below it.
  std::vector<int64_t> next_id_;
};

}  // namespace pulse::generate

#endif  // PULSE_GENERATE_ACTIVITY_GENERATOR_H_
