// The README's LruCache example: a bounded cache in front of a slow lookup, with one load per
// key at a time and the cache metrics recorded under cache="products". Built with the project
// and run by its tests.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "vitals/agent.h"
#include "vitals/lru_cache.h"

struct Product {
  int64_t id;
  std::string name;
};

// Stands in for the database.
class ProductDb {
 public:
  absl::StatusOr<std::shared_ptr<const Product>> LoadProduct(int64_t id) {
    ++loads_;
    return std::make_shared<const Product>(Product{id, "product " + std::to_string(id)});
  }
  int loads() const { return loads_; }

 private:
  int loads_ = 0;
};

int main() {
  vitals::Options options;
  options.listen = "127.0.0.1:0";
  vitals::Agent agent(options);
  ProductDb db;
  const int64_t id = 42;
  // [readme:cache]
  vitals::LruCache<int64_t, std::shared_ptr<const Product>>::Options o;
  o.max_entries = 10000;  // optional: o.ttl, o.weigher + o.max_weight
  vitals::LruCache<int64_t, std::shared_ptr<const Product>> products(agent, "products", o);
  absl::StatusOr<std::shared_ptr<const Product>> p =
      products.GetOrLoad(id, [&] { return db.LoadProduct(id); });  // one load per key at a time
  // [/readme:cache]
  auto again = products.GetOrLoad(id, [&] { return db.LoadProduct(id); });
  const bool ok = p.ok() && again.ok() && db.loads() == 1 && (*again)->name == "product 42";
  std::printf("product_cache: %s\n", ok ? "one load, then a hit" : "UNEXPECTED");
  return ok ? 0 : 1;
}
