/**
 * Imported first by the demo: @livekit/rtc-node logs at debug level to stdout unless NODE_ENV is
 * production (its logger is not exported), which would scribble over the demo's table once it
 * joins a room. Module evaluation follows import order, so this runs before the SDK loads.
 */
process.env.NODE_ENV ??= 'production';
