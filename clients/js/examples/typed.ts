// A small typed game client: requests on several ops, pushes by name, and errors
// narrowed by code. Checked by `tsc --noEmit -p clients/js` (make test).

import { Arena, ArenaError, guestLogin } from "../arena.js";
import type { Pushes } from "../arena.js";

export async function play(baseUrl: string, name: string): Promise<void> {
  const login = await guestLogin(baseUrl, { name });
  const arena = new Arena(baseUrl, { token: login.token, backoff: { initialMs: 500 } });

  arena.on("chat.message", (push) => console.log(`${push.name}: ${push.text}`));
  arena.on("match.event", (push: Pushes["match.event"]) => console.log(push.from, push.type, push.data));
  arena.on("client.close", ({ code, final }) => {
    if (final) console.log(`closed for good (${code})`);
  });
  await arena.connect();

  const { server_time_ms } = await arena.request("ping");
  console.log("server time", new Date(server_time_ms));
  await arena.request("chat.join", { room: "general" });
  const { id } = await arena.request("chat.send", { room: "general", text: "hello" });
  console.log("sent", id);

  try {
    const { rank, improved } = await arena.request("lb.submit", { board: "global", score: 42 });
    console.log(improved ? `new best, rank ${rank}` : `rank ${rank}`);
  } catch (err) {
    if (!(err instanceof ArenaError)) throw err;
    switch (err.code) {
      case "RATE_LIMITED":
        console.log(`try again in ${err.retryAfterMs} ms`);
        break;
      case "UNKNOWN_BOARD":
      case "CLOSED":
      case "TIMEOUT":
        console.log(err.code, err.message);
        break;
      default:
        throw err;
    }
  }

  const { entries } = await arena.request("lb.top", { board: "global", limit: 3 });
  for (const entry of entries) console.log(entry.rank, entry.name, entry.score);

  const started = arena.nextPush("match.started", { timeoutMs: 60000 });
  const { lobby } = await arena.request("lobby.create", { mode: "duel", capacity: 2 });
  console.log("waiting in", lobby.lobby_id);
  const { match_id } = await started;
  arena.send("match.send", { match_id, type: "move", data: { x: 1 } });
  const echo = await arena.nextPush("match.event", { filter: (push) => push.from === arena.playerId });
  console.log("echoed at", echo.id);
  await arena.close();
}
