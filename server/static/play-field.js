// Drawing the playing field on its canvas, in field coordinates (FIELD.w x FIELD.h).

import { DOT_R, FIELD, TARGET_R, colorOf } from "./play-game.js";

// view: {game, positions: {player_id: {x, y}}, steer: {x, y} or null, myId, nameOf(player_id)}
export function drawField(canvas, view) {
  const ctx = canvas.getContext("2d");
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== FIELD.w * dpr) {
    canvas.width = FIELD.w * dpr;
    canvas.height = FIELD.h * dpr;
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, FIELD.w, FIELD.h);
  ctx.strokeStyle = "#eef0f4";
  ctx.lineWidth = 1;
  for (let x = 40; x < FIELD.w; x += 40) line(ctx, x, 0, x, FIELD.h);
  for (let y = 40; y < FIELD.h; y += 40) line(ctx, 0, y, FIELD.w, y);
  const { game } = view;
  if (!game) return;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const t = game.target;
  if (t && game.winner === null && !game.ended) {
    circle(ctx, t.x, t.y, TARGET_R, "rgba(47, 111, 222, .12)", "#2f6fde");
    ctx.fillStyle = "#2f6fde";
    ctx.font = "600 15px system-ui, sans-serif";
    ctx.fillText(String(t.k + 1), t.x, t.y);
  }
  const mine = view.positions[view.myId];
  if (view.steer && mine && !game.ended) {
    // Where I steer: my dot runs there at the server's pace.
    ctx.strokeStyle = colorOf(view.myId);
    ctx.lineWidth = 2;
    line(ctx, view.steer.x - 6, view.steer.y, view.steer.x + 6, view.steer.y);
    line(ctx, view.steer.x, view.steer.y - 6, view.steer.x, view.steer.y + 6);
  }
  ctx.font = "12px system-ui, sans-serif";
  for (const [p, at] of Object.entries(view.positions)) {
    circle(ctx, at.x, at.y, DOT_R, colorOf(p), p === view.myId ? "#1d2330" : null);
    ctx.fillStyle = "#1d2330";
    ctx.fillText(view.nameOf(p), at.x, at.y - DOT_R - 8);
  }
  let banner = "";
  if (game.catchingUp) banner = "Catching up…";
  else if (game.winner !== null) banner = `${view.nameOf(game.winner)} wins!`;
  if (banner) {
    ctx.fillStyle = "rgba(29, 35, 48, .75)";
    ctx.font = "600 28px system-ui, sans-serif";
    ctx.fillText(banner, FIELD.w / 2, FIELD.h / 2);
  }
}

function line(ctx, x1, y1, x2, y2) {
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
}

function circle(ctx, x, y, r, fill, stroke) {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.fillStyle = fill;
  ctx.fill();
  if (stroke) {
    ctx.lineWidth = 2;
    ctx.strokeStyle = stroke;
    ctx.stroke();
  }
}
