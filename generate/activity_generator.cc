#include "generate/activity_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace pulse::generate {

namespace {

// What an action does to the target choice and to who wrote the row.
enum class ActionKind { kCreate, kEdit, kSession, kRun, kUpload, kInstall };

struct ActionShare {
  std::string_view action;
  double percent;
  ActionKind kind;
};

// The action mix of a busy content site; rows for reads and failed logins
// do not exist in Directus, so they do not exist here.
constexpr ActionShare kActionShares[] = {
    {"create", 30, ActionKind::kCreate},
    {"update", 45, ActionKind::kEdit},
    {"delete", 5, ActionKind::kEdit},
    {"login", 10, ActionKind::kSession},
    {"logout", 5, ActionKind::kSession},
    {"run", 3.5, ActionKind::kRun},
    {"version_save", 0.6, ActionKind::kEdit},
    {"comment", 0.3, ActionKind::kEdit},
    {"upload", 0.3, ActionKind::kUpload},
    {"revert", 0.2, ActionKind::kEdit},
    {"install", 0.1, ActionKind::kInstall},
};
constexpr uint32_t kCreate = 0;
constexpr uint32_t kUpdate = 1;
constexpr uint32_t kDelete = 2;
constexpr uint32_t kLogin = 3;
constexpr uint32_t kLogout = 4;

// About 10 % of rows have no user: every `run`, plus this share of
// create/update/delete rows, which flows write too.
constexpr double kNullUserShare = 0.10;
constexpr double kRunShare = 0.035;
constexpr double kCrudShare = 0.80;
constexpr double kFlowCrudShare = (kNullUserShare - kRunShare) / kCrudShare;

// A user's habits: mostly the home address and the usual browser.
constexpr double kHomeIpShare = 0.60;
constexpr double kHomeAgentShare = 0.85;
constexpr double kCommentShare = 0.03;

// The attacker: a stolen account or three, logging in over and over and
// editing across the first collections it finds.
struct AttackShare {
  uint32_t action;
  double percent;
};
constexpr AttackShare kAttackShares[] = {
    {kLogin, 40}, {kUpdate, 25}, {kCreate, 15}, {kDelete, 10}, {kLogout, 10},
};
constexpr uint32_t kVictims[] = {3, 17, 42};
constexpr uint32_t kAttackedCollections = 12;

constexpr uint64_t kSiteStream = 0x73697465ULL;
constexpr uint64_t kAttackStream = 0x61747461636bULL;
constexpr uint64_t kHostileStream = 0x686f7374696c65ULL;
constexpr uint64_t kItemStream = 0x6974656d73ULL;

constexpr std::string_view kUsersCollection = "directus_users";
constexpr std::string_view kFilesCollection = "directus_files";
constexpr std::string_view kFlowsCollection = "directus_flows";
constexpr std::string_view kExtensionsCollection = "directus_extensions";

// A sampler over `entries`, each weighted by `weight(entry)`.
template <typename Range, typename Weight>
WeightedSampler SamplerOver(const Range& entries, Weight weight) {
  std::vector<double> w;
  for (const auto& entry : entries) {
    w.push_back(weight(entry));
  }
  return WeightedSampler(w);
}

template <typename T>
const T& PickFrom(const std::vector<T>& pool, Rng& rng) {
  return pool[rng.Below(static_cast<uint32_t>(pool.size()))];
}

}  // namespace

Status ValidateGeneratorOptions(const GeneratorOptions& o) {
  auto range = [](std::string_view name, uint32_t v, uint32_t hi) {
    if (v < 1 || v > hi) {
      return Status::InvalidArgument(
          fmt::format("{}={}: must be between 1 and {}", name, v, hi));
    }
    return Status::Ok();
  };
  PULSE_RETURN_IF_ERROR(range("collections", o.collections, 10'000));
  PULSE_RETURN_IF_ERROR(range("users", o.users, 1'000'000));
  PULSE_RETURN_IF_ERROR(range("ips", o.ips, 1'000'000));
  if (!(o.hostile_fraction >= 0 && o.hostile_fraction <= 1)) {
    return Status::InvalidArgument(fmt::format(
        "hostile_fraction={}: must be between 0 and 1", o.hostile_fraction));
  }
  if (Utf8Length(o.attacker_ip) > kMaxIp) {
    return Status::InvalidArgument(
        fmt::format("attacker_ip={}: longer than the ip column's {} chars",
                    o.attacker_ip, kMaxIp));
  }
  return Status::Ok();
}

ActivityGenerator::ActivityGenerator(const GeneratorOptions& o)
    : options_(o),
      catalog_(BuildCatalog(o.seed, o.collections, o.users, o.ips)),
      rng_(Mix64(o.seed, kSiteStream)),
      attack_rng_(Mix64(o.seed, kAttackStream)),
      hostile_rng_(Mix64(o.seed, kHostileStream)) {
  // Zipf shifts tuned so the busiest collection takes ~15 % of content
  // rows and the heaviest user ~5 % of user rows.
  auto percent = [](const auto& share) { return share.percent; };
  auto weight = [](const auto& entry) { return entry.weight; };
  actions_ = SamplerOver(kActionShares, percent);
  attack_actions_ = SamplerOver(kAttackShares, percent);
  collections_ = WeightedSampler(ZipfWeights(o.collections, 1.0));
  users_ = WeightedSampler(ZipfWeights(o.users, 2.0));
  user_agents_ = SamplerOver(catalog_.user_agents, weight);
  origins_ = SamplerOver(catalog_.origins, weight);

  // Every collection starts with some items already there.
  Rng item_rng(Mix64(o.seed, kItemStream));
  next_id_.resize(o.collections);
  for (int64_t& id : next_id_) {
    id = 2 + item_rng.Below(20'000);
  }
}

void ActivityGenerator::Fill(ActivityRow& row) {
  row.source = RowSource::kUser;
  row.hostile = false;

  // Who wrote it: flows run without a user, and edit content too.
  uint32_t action = actions_.Sample(rng_);
  row.action = kActionShares[action].action;
  ActionKind kind = kActionShares[action].kind;
  bool crud = action == kCreate || action == kUpdate || action == kDelete;
  if (kind == ActionKind::kRun || (crud && rng_.Chance(kFlowCrudShare))) {
    FillFlowRow(action, row);
  } else {
    FillUserRow(action, row);
  }

  // Only the legacy shape stores it, but it is drawn for every row.
  row.comment.reset();
  if (kind != ActionKind::kSession && rng_.Chance(kCommentShare)) {
    row.comment = PickFrom(catalog_.comments, rng_);
  }

  if (options_.hostile_fraction > 0 &&
      hostile_rng_.Chance(options_.hostile_fraction)) {
    MakeHostile(row);
  }
}

void ActivityGenerator::FillAttack(ActivityRow& row) {
  row.source = RowSource::kAttacker;
  row.hostile = false;
  row.comment.reset();

  // A script with a stolen session: same address, no Origin header.
  uint32_t action = kAttackShares[attack_actions_.Sample(attack_rng_)].action;
  row.action = kActionShares[action].action;
  uint32_t victim = kVictims[attack_rng_.Below(3)] % options_.users;
  row.user = catalog_.users[victim];
  row.ip = options_.attacker_ip;
  row.user_agent = kAttackerAgent;
  row.origin.reset();

  // Sessions target the user; edits crawl the first collections.
  if (kActionShares[action].kind == ActionKind::kSession) {
    PickTarget(action, attack_rng_, row);
    return;
  }
  uint32_t spread = std::min(kAttackedCollections, options_.collections);
  PickItem(attack_rng_.Below(spread), action == kCreate, attack_rng_, row);
}

void ActivityGenerator::FillUserRow(uint32_t action, ActivityRow& row) {
  // Heavy users write most rows.
  uint32_t user = users_.Sample(rng_);
  row.user = catalog_.users[user];

  // Home address mostly, the office NAT sometimes, anywhere else rarely.
  double where = rng_.Unit();
  uint32_t ip = 0;
  if (where < kHomeIpShare) {
    ip = catalog_.user_home_ip[user];
  } else if (where < kHomeIpShare + kHotIpShare) {
    ip = rng_.Below(std::min(kHotIps, options_.ips));
  } else {
    ip = rng_.Below(options_.ips);
  }
  row.ip = catalog_.ips[ip];

  // Browsers send an Origin header; API clients do not.
  uint32_t agent = rng_.Chance(kHomeAgentShare) ? catalog_.user_home_agent[user]
                                                : user_agents_.Sample(rng_);
  row.user_agent = catalog_.user_agents[agent].text;
  row.origin.reset();
  if (catalog_.user_agents[agent].browser) {
    row.origin = catalog_.origins[origins_.Sample(rng_)].text;
  }

  PickTarget(action, rng_, row);
}

void ActivityGenerator::FillFlowRow(uint32_t action, ActivityRow& row) {
  row.source = RowSource::kFlow;
  row.user.reset();
  row.ip.reset();
  row.user_agent.reset();
  row.origin.reset();
  PickTarget(action, rng_, row);
}

void ActivityGenerator::PickTarget(uint32_t action, Rng& rng,
                                   ActivityRow& row) {
  char uuid[36];
  switch (kActionShares[action].kind) {
    case ActionKind::kSession:
      // Directus logs a login against the user's own record.
      row.collection = kUsersCollection;
      row.item.assign(*row.user);
      return;
    case ActionKind::kRun:
      row.collection = kFlowsCollection;
      row.item.assign(PickFrom(catalog_.flows, rng));
      return;
    case ActionKind::kUpload:
    case ActionKind::kInstall:
      row.collection = kActionShares[action].kind == ActionKind::kUpload
                           ? kFilesCollection
                           : kExtensionsCollection;
      FormatUuid(rng.Next(), rng.Next(), uuid);
      row.item.assign(uuid, sizeof uuid);
      return;
    case ActionKind::kCreate:
    case ActionKind::kEdit:
      PickItem(collections_.Sample(rng), action == kCreate, rng, row);
      return;
  }
}

void ActivityGenerator::PickItem(uint32_t collection, bool create, Rng& rng,
                                 ActivityRow& row) {
  const CollectionInfo& info = catalog_.collections[collection];
  row.collection = info.name;
  if (info.key == KeyKind::kSingleton) {
    row.item.assign("1");
    return;
  }
  if (info.key == KeyKind::kName) {
    row.item.assign(PickFrom(catalog_.collections, rng).name);
    return;
  }

  // New items take the next id; edits favour recent items (u^3 is small).
  int64_t id = 0;
  if (create) {
    id = next_id_[collection]++;
  } else {
    int64_t newest = next_id_[collection] - 1;
    double u = rng.Unit();
    id = newest -
         static_cast<int64_t>(static_cast<double>(newest - 1) * u * u * u);
  }

  // A uuid key is a fixed function of (collection, id), so edits of an
  // item repeat its uuid.
  if (info.key == KeyKind::kUuid) {
    char uuid[36];
    uint64_t hi = Mix64(options_.seed ^ kItemStream, collection);
    FormatUuid(hi, Mix64(hi, static_cast<uint64_t>(id)), uuid);
    row.item.assign(uuid, sizeof uuid);
    return;
  }
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, id).ptr;
  row.item.assign(digits, end);
}

void ActivityGenerator::MakeHostile(ActivityRow& row) {
  // One column at a time, all nullable columns null, or everything at once.
  const Catalog& c = catalog_;
  Rng& r = hostile_rng_;
  row.hostile = true;
  switch (r.Below(7)) {
    case 0:
      row.ip = PickFrom(c.hostile_ips, r);
      return;
    case 1:
      row.user_agent = PickFrom(c.hostile_agents, r);
      return;
    case 2:
      row.collection = PickFrom(c.hostile_collections, r);
      return;
    case 3:
      row.item.assign(PickFrom(c.hostile_items, r));
      return;
    case 4:
      row.origin = PickFrom(c.hostile_origins, r);
      return;
    case 5:
      row.user.reset();
      row.ip.reset();
      row.user_agent.reset();
      row.origin.reset();
      row.comment.reset();
      return;
    default:
      row.ip = PickFrom(c.hostile_ips, r);
      row.user_agent = PickFrom(c.hostile_agents, r);
      row.collection = PickFrom(c.hostile_collections, r);
      row.item.assign(PickFrom(c.hostile_items, r));
      row.origin = PickFrom(c.hostile_origins, r);
      row.comment = PickFrom(c.hostile_items, r);
      return;
  }
}

}  // namespace pulse::generate
