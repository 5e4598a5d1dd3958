package replay

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
)

// Resume takes over, in the background until Close, the jobs that Start began in this
// or another process and that have not ended: at once and then every
// Config.ResumeInterval it lists them and runs each one not running here. A job
// stopped by a shutdown (its lease released) is taken over at the first look; one whose
// process died, once that process's lease has expired; one still running elsewhere is
// left alone (its lease is held). Jobs that ended done or failed are not resumed (a
// failure's cause may be permanent: `eventrouter replay --resume` runs one again), nor
// are jobs run in the foreground by the replay command. Calling Resume again does
// nothing.
func (e *Engine) Resume() {
	e.resumer.Do(func() {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			t := time.NewTicker(e.cfg.ResumeInterval)
			defer t.Stop()
			for {
				if _, err := e.resumeActive(e.ctx); err != nil && e.ctx.Err() == nil {
					e.log.Warn("replay: looking for jobs to resume", zap.Error(err))
				}
				select {
				case <-e.ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	})
}

// resumeActive is one look: it starts a background run of every active job that
// exists, has not ended and is not running here, drops from the active set the jobs
// that ended or expired, and returns how many runs it started (each then either takes
// the job's lease or finds it busy).
func (e *Engine) resumeActive(ctx context.Context) (started int, err error) {
	ids, err := e.deps.Jobs.Active(ctx)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		j, err := e.deps.Jobs.Get(ctx, id)
		switch {
		case errors.Is(err, ErrJobNotFound): // expired (or never saved): nothing to resume
			err = e.deps.Jobs.Unmark(ctx, id)
		case err != nil:
		case j.State == StateDone || j.State == StateFailed:
			err = e.deps.Jobs.Unmark(ctx, id)
		default:
			if e.background(id, true) {
				started++
			}
		}
		if err != nil {
			e.log.Warn("replay: job to resume", zap.String("job", id), zap.Error(err))
		}
	}
	return started, nil
}
