package androidx.activity.result.contract;

/**
 * Stand-in for androidx.activity.result.contract.ActivityResultContract (activity 1.9.3): its
 * type parameters only; the app calls none of its members.
 */
public abstract class ActivityResultContract<I, O> {}
