import { test } from "node:test";
import assert from "node:assert/strict";
import { NO_BEGIN, TaskIdTable, UNSEEN } from "../lib/read/task_id_table.ts";

test("TaskIdTable keeps every state when a type index outgrows a byte, and far ids", () => {
  const t = new TaskIdTable();
  for (let id = 0; id < 5000; id++) t.set(id, id % 3 === 0 ? NO_BEGIN : id % 200);
  // A type index past 253 widens the table; what was there stays.
  t.set(7000, 100_000);
  for (let id = 0; id < 5000; id++) assert.equal(t.get(id), id % 3 === 0 ? NO_BEGIN : id % 200);
  assert.equal(t.get(7000), 100_000);
  assert.equal(t.get(6999), UNSEEN);
  t.set(2 ** 40, 3);
  assert.equal(t.get(2 ** 40), 3);
  assert.equal(t.get(2 ** 40 + 1), UNSEEN);
});
