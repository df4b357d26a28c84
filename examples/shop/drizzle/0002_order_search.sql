-- Hand-edited after generation: build the index without blocking writes.
CREATE INDEX CONCURRENTLY "orders_placed_at_idx" ON "orders" USING btree ("placed_at");
