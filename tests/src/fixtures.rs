//! Rows the pipeline tests start from, and the questions they ask the database about a batch.

use std::time::Duration;

use crate::{TestDb, eventually};

/// `n` root instances `pi-1..pi-n`, even ones of definition `p` (`pd1`), odd ones of `other`
/// (`pd2`), each with a child execution, a variable and history; `c-1` is a called
/// sub-instance (of `pd1`) of `pi-1`, which runs a second branch `pi-1-y`: deleting `c-1`
/// alone cancels only the calling branch `pi-1-x` and leaves `pi-1` running.
pub async fn seed_instances(db: &TestDb, n: usize) {
    db.exec(&format!(
        "insert into act_re_procdef(id_,key_,version_) values ('pd1','p',1),('pd2','other',1);
         insert into act_ru_execution(id_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,business_key_)
           select 'pi-'||g, 'pi-'||g, 'pi-'||g, case when g % 2 = 0 then 'pd1' else 'pd2' end, 'bk-'||g from generate_series(1,{n}) g;
         insert into act_ru_execution(id_,proc_inst_id_,parent_id_,proc_def_id_)
           select 'pi-'||g||'-x', 'pi-'||g, 'pi-'||g, 'pd1' from generate_series(1,{n}) g;
         insert into act_ru_variable(id_,type_,name_,execution_id_,proc_inst_id_,var_scope_,text_)
           select 'v-'||g, 'string', 'x', 'pi-'||g, 'pi-'||g, 'pi-'||g, 'val' from generate_series(1,{n}) g;
         insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,start_time_,state_)
           select 'pi-'||g, 'pi-'||g, 'pd1', now() - interval '1 day', 'ACTIVE' from generate_series(1,{n}) g;
         insert into act_ru_execution(id_,proc_inst_id_,parent_id_,proc_def_id_,is_active_)
           values ('pi-1-y','pi-1','pi-1','pd2',true);
         insert into act_ru_execution(id_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,super_exec_)
           values ('c-1','c-1','pi-1','pd1','pi-1-x');
         insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,start_time_,state_)
           values ('c-1','c-1','pd1', now(), 'ACTIVE');"
    ))
    .await;
}

/// A real database failure for one instance's chunk: deleting execution `id` raises (until
/// `DROP TRIGGER refuse ON act_ru_execution`).
pub async fn refuse_to_delete(db: &TestDb, id: &str) {
    db.exec(&format!(
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refusing to delete %', OLD.id_; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER refuse BEFORE DELETE ON act_ru_execution FOR EACH ROW WHEN (OLD.id_ = '{id}') EXECUTE FUNCTION refuse();"
    ))
    .await;
}

/// Root executions (process instances without a parent execution) of definition id `def`
/// still in the runtime.
pub async fn root_instances(db: &TestDb, def: &str) -> i64 {
    db.scalar(&format!("SELECT count(*) FROM act_ru_execution WHERE proc_def_id_ = '{def}' AND parent_id_ IS NULL"))
        .await
}

/// Items of batch `id` the ledger records as deleted.
pub async fn deleted_items(db: &TestDb, id: &str) -> i64 {
    db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}' AND state_ = 'deleted'")).await
}

/// Whether batch `id` has ended (its historic batch has an end time).
pub async fn batch_completed(db: &TestDb, id: &str) -> bool {
    db.scalar(&format!("SELECT count(*) FROM sweep_hi_batch WHERE id_ = '{id}' AND end_time_ IS NOT NULL")).await == 1
}

/// Waits until batch `id` has ended (panics after `timeout`).
pub async fn wait_completed(db: &TestDb, id: &str, timeout: Duration) {
    eventually(timeout, || async { batch_completed(db, id).await.then_some(()) }).await;
}
